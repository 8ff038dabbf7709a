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

    static let rules: [Measurand: Rule] = [
        .powerActiveImport: .sum, .powerActiveExport: .sum,
        .energyActiveImportRegister: .sum, .energyActiveExportRegister: .sum,
        .currentImport: .highest, .currentExport: .highest,
        .voltage: .mean,
    ]

    /// The aggregates `samples` call for, in the order their measurands first appear.
    static func aggregates(_ samples: [MeterSample]) -> [(measurand: Measurand, value: Double)] {
        // Most chargers send no phases: nothing to do, nothing allocated.
        guard samples.contains(where: { $0.phase != nil }) else { return [] }
        var order: [Measurand] = []
        var perPhase: [Measurand: [Double?]] = [:]
        var whole: Set<Measurand> = []
        for sample in samples where rules[sample.measurand] != nil && (sample.location == nil || sample.location == .outlet) {
            guard let phase = sample.phase else {
                whole.insert(sample.measurand)
                continue
            }
            guard let index = phaseIndex(phase), let value = sample.value else { continue }
            if perPhase[sample.measurand] == nil {
                perPhase[sample.measurand] = [nil, nil, nil]
                order.append(sample.measurand)
            }
            perPhase[sample.measurand]![index] = value  // a later sample of the same phase supersedes
        }
        return order.compactMap { measurand in
            guard !whole.contains(measurand) else { return nil }
            let values = perPhase[measurand]!.compactMap { $0 }
            switch rules[measurand]! {
            case .sum: return (measurand, values.reduce(0, +))
            case .highest: return (measurand, values.max()!)
            case .mean: return (measurand, values.reduce(0, +) / Double(values.count))
            }
        }
    }

    /// L1, L2 or L3 (to neutral, or unqualified); nil for the neutral and line-to-line phases.
    private static func phaseIndex(_ phase: Phase) -> Int? {
        switch phase {
        case .l1, .l1N: 0
        case .l2, .l2N: 1
        case .l3, .l3N: 2
        case .n, .l1L2, .l2L3, .l3L1: nil
        }
    }
}
