import Foundation
import TestSupport
import XCTest

/// The office app on the demo pipeline, for OfficeAppTests and OfficeBrowserTests: the YCCK print quarantined
/// with one of its two people's consent, the export and evidence folders, and the app started on a free port.
class OfficeAppTestCase: PipelineTestCase {
    var app: Process?
    var address = ""
    var base = ""
    var token = ""
    var export: URL { root.appendingPathComponent("office-export") }
    var evidence: URL { root.appendingPathComponent("evidence") }

    override func tearDownWithError() throws {
        if let app, app.isRunning {
            app.terminate()
            app.waitUntilExit()
        }
        try super.tearDownWithError()
    }

    /// Quarantines the group picture (1 of 2 consented), then starts `consentgate office` and reads its address.
    func startOffice() throws {
        try FileManager.default.createDirectory(at: evidence, withIntermediateDirectories: true)
        try writePipeline(settle: 0, extra: "office_export: office-export\nevidence: evidence")
        try drop("demo-ycck-print.jpg", as: "group photo.jpg")
        XCTAssertEqual(try runPipeline().status, 1)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.consentgate)
        process.arguments = ["office", "--pipeline", pipeline, "--key", try demoKey(), "--port", "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        app = process
        // The first line names the address; read byte by byte up to it (the app keeps running).
        var line: [UInt8] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            if byte.first == 0x0A { break }
            line += byte
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://127.0.0.1:") else {
            return XCTFail("no address printed: \(text)")
        }
        address = String(text[range.lowerBound...])
        base = String(address[..<(address.range(of: "/?token=")?.lowerBound ?? address.endIndex)])
        token = String(address[(address.range(of: "token=")?.upperBound ?? address.endIndex)...])
        XCTAssertEqual(token.count, 64, address)
    }

    struct Reply {
        var status: Int
        var headers: String
        var body: String
    }

    /// One request through curl (which sends what a browser would not: no cookie, another Host, no CSRF field).
    func curl(_ path: String, _ extra: [String] = []) throws -> Reply {
        let headers = root.appendingPathComponent("headers.txt").path
        let outcome = try Fixtures.run(
            "/usr/bin/curl", ["-s", "-D", headers, "-o", "-", "-w", "\n%{http_code}", base + path] + extra, timeout: 60)
        var body = outcome.text
        let code = Int(body.split(separator: "\n").last ?? "") ?? 0
        if let cut = body.lastIndex(of: "\n") { body = String(body[..<cut]) }
        return Reply(status: code, headers: (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "", body: body)
    }

    var cookie: [String] { ["-H", "Cookie: consentgate_office=\(token)"] }

    /// The CSRF token a page's forms carry.
    func csrf(in html: String) -> String? {
        guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }
}
