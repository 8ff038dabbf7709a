import MQTTBridge

/// MQTT commands waiting for their station.
extension SQLiteStore {
    public func add(_ command: StoredCommand) throws -> Int64 {
        try locked {
            try database.run("""
                INSERT INTO pending_commands (station, name, action, payload, request_id, state_parameter, state_value, sent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.init(command.station), .text(command.name), .text(command.action), .text(command.payload), .init(command.requestID),
                      .init(command.stateParameter), .init(command.stateValue), .int(command.sent ? 1 : 0)])
            return database.lastInsertedRow
        }
    }

    public func markSent(_ id: Int64, _ sent: Bool) throws {
        try locked { try database.run("UPDATE pending_commands SET sent = ? WHERE id = ?", [.int(sent ? 1 : 0), .int(id)]) }
    }

    public func remove(_ id: Int64) throws {
        try locked { try database.run("DELETE FROM pending_commands WHERE id = ?", [.int(id)]) }
    }

    public func storedCommands() throws -> [StoredCommand] {
        try locked {
            var commands: [StoredCommand] = []
            try database.run("SELECT id, station, name, action, payload, request_id, state_parameter, state_value, sent FROM pending_commands ORDER BY id") { row in
                commands.append(StoredCommand(
                    id: Int64(row.int(0) ?? 0), station: row.text(1), name: row.text(2) ?? "", action: row.text(3) ?? "",
                    payload: row.text(4) ?? "{}", requestID: row.text(5), stateParameter: row.text(6), stateValue: row.text(7),
                    sent: row.int(8) != 0))
            }
            return commands
        }
    }
}
