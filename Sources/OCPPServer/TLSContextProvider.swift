import Foundation
import Logging
import NIOSSL
import Synchronization

/// TLS for chargers: OCPP security profile 2 (TLS with passwords) and 3 (TLS with client certificates).
public struct TLSSettings: Sendable, Hashable {
    /// The server's certificate chain (PEM, `OCPP_TLS_CERT`) and key (PEM, `OCPP_TLS_KEY`).
    public var certificateFile: String
    public var keyFile: String
    /// Authorities for client certificates (PEM, `OCPP_TLS_CLIENT_CA`): when set, every charger must present a
    /// certificate they signed, whose common name is its station id (profile 3).
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }
}

/// The current TLS context, built from the files and rebuilt by ``reload()`` (on SIGHUP, or when the files
/// change), so certificates can be renewed without a restart. New connections use the new certificate.
public final class TLSContextProvider: Sendable {
    public let settings: TLSSettings
    private let context: Mutex<NIOSSLContext>
    private let stamps: Mutex<[Date?]>

    /// - Throws: ``TLSSetupError`` when a file cannot be read or the certificate and key do not fit.
    public init(settings: TLSSettings) throws {
        self.settings = settings
        self.context = Mutex(try Self.makeContext(settings))
        self.stamps = Mutex(Self.modificationDates(settings))
    }

    public var current: NIOSSLContext { context.withLock { $0 } }

    /// Loads the files again. A failed reload keeps the previous certificate and says why.
    public func reload() throws {
        let fresh = try Self.makeContext(settings)
        context.withLock { $0 = fresh }
        stamps.withLock { $0 = Self.modificationDates(settings) }
    }

    /// Whether a file changed since the last load.
    public var filesChanged: Bool {
        stamps.withLock { $0 } != Self.modificationDates(settings)
    }

    private static func modificationDates(_ settings: TLSSettings) -> [Date?] {
        [settings.certificateFile, settings.keyFile, settings.clientCAFile].map { path in
            path.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
        }
    }

    private static func makeContext(_ settings: TLSSettings) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(settings.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            if let clientCA = settings.clientCAFile {
                // The chain is checked against the client CA; the name is matched to the station id at the upgrade.
                configuration.certificateVerification = .noHostnameVerification
                configuration.trustRoots = .file(clientCA)
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(description: "cannot use the TLS files (OCPP_TLS_CERT, OCPP_TLS_KEY, OCPP_TLS_CLIENT_CA): \(error)")
        }
    }
}

public struct TLSSetupError: Error, CustomStringConvertible {
    public var description: String
}
