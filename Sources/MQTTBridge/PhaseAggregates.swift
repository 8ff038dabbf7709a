import CentralSystem
import OCPP

/// The whole-charger value of a measurand that a charger reports only per phase, the way an electrician reads it:
/// power and energy are the sum of the phases, current the highest phase (what a fuse sees), voltage the mean of the
/// phases to neutral. Published as the unsuffixed parameter (`power_active_import`, `current_import`, `voltage`)
/// beside the per-phase ones, so dashboards that read the unsuffixed topics (ocpp2mqtt's) keep working with
/// three-phase chargers. A charger that sends the unsuffixed value itself is taken at its word.
enum PhaseAggregates {
    enum Rule {
        case sum, highest, mean
    }

    /// The measurands with a whole-charger value, and how it is made.
    static let rules: [(measurand: Measurand, rule: Rule)] = [
        (.powerActiveImport, .sum), (.powerActiveExport, .sum),
        (.energyActiveImportRegister, .sum), (.energyActiveExportRegister, .sum),
        (.currentImport, .highest), (.currentExport, .highest),
        (.voltage, .mean),
    ]

    /// One measurand's readings in one MeterValues.
    private struct Tally {
        /// The latest value of L1, L2 and L3.
        var phases: (Double?, Double?, Double?) = (nil, nil, nil)
        /// The charger sent the value without a phase.
        var whole = false
        /// Where its first phase reading came, to keep the order of the samples.
        var first = Int.max
    }

    /// The aggregates `samples` call for, in the order their measurands' phases first appear.
    static func aggregates(_ samples: [MeterSample]) -> [(measurand: Measurand, value: Double)] {
        // Most chargers send no phases: nothing to do, nothing allocated.
        guard samples.contains(where: { $0.phase != nil }) else { return [] }
        var tallies = [Tally](repeating: Tally(), count: rules.count)
        for (position, sample) in samples.enumerated() where sample.location == nil || sample.location == .outlet {
            guard let slot = rules.firstIndex(where: { $0.measurand == sample.measurand }) else { continue }
            guard let phase = sample.phase else {
                tallies[slot].whole = true
                continue
            }
            guard let value = sample.value else { continue }
            switch phase {  // a later sample of the same phase supersedes
            case .l1, .l1N: tallies[slot].phases.0 = value
            case .l2, .l2N: tallies[slot].phases.1 = value
            case .l3, .l3N: tallies[slot].phases.2 = value
            case .n, .l1L2, .l2L3, .l3L1: continue  // neutral and line to line are left out
            }
            tallies[slot].first = min(tallies[slot].first, position)
        }
        var out: [(measurand: Measurand, value: Double, first: Int)] = []
        for (slot, tally) in tallies.enumerated() where !tally.whole && tally.first != .max {
            let values = [tally.phases.0, tally.phases.1, tally.phases.2].compactMap { $0 }
            let total: Double = switch rules[slot].rule {
            case .sum: values.reduce(0, +)
            case .highest: values.max()!
            case .mean: values.reduce(0, +) / Double(values.count)
            }
            out.append((rules[slot].measurand, total, tally.first))
        }
        return out.sorted { $0.first < $1.first }.map { ($0.measurand, $0.value) }
    }
}
