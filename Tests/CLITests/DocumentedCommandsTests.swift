import Foundation
import TestSupport
import XCTest

/// Every `consentgate ...` command shown in the README and docs/ names subcommands and options the program has:
/// a page that teaches a spelling the program refuses (a renamed option, a subcommand that moved) fails here.
final class DocumentedCommandsTests: XCTestCase {
    /// The command lines in the fenced code blocks of README.md and docs/*.md (continuation lines joined).
    static func documentedCommands() throws -> [(page: String, line: String)] {
        let top = Fixtures.sampleMedia.deletingLastPathComponent()
        var pages = [top.appendingPathComponent("README.md")]
        let docs = top.appendingPathComponent("docs")
        for name in try FileManager.default.contentsOfDirectory(atPath: docs.path).sorted() where name.hasSuffix(".md") {
            pages.append(docs.appendingPathComponent(name))
        }
        var found: [(String, String)] = []
        for page in pages {
            var inCode = false
            var pending = ""
            for raw in try String(contentsOf: page, encoding: .utf8).components(separatedBy: "\n") {
                if raw.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                    inCode.toggle()
                    pending = ""
                    continue
                }
                guard inCode else { continue }
                var line = pending + raw.trimmingCharacters(in: .whitespaces)
                if line.hasSuffix("\\") {
                    pending = String(line.dropLast()) + " "
                    continue
                }
                pending = ""
                if let hash = line.range(of: " #") { line = String(line[..<hash.lowerBound]) }
                for prefix in ["sudo ", "$ ", "# "] where line.hasPrefix(prefix) { line = String(line.dropFirst(prefix.count)) }
                if line.hasPrefix("/usr/bin/consentgate ") { line = String(line.dropFirst("/usr/bin/".count)) }
                guard line.hasPrefix("consentgate ") else { continue }
                found.append((page.lastPathComponent, line))
            }
        }
        return found
    }

    func testEveryDocumentedCommandUsesSpellingsTheProgramHas() throws {
        let binary = try Fixtures.consentgate
        let commands = try Self.documentedCommands()
        XCTAssertGreaterThan(commands.count, 20, "the docs show the commands")
        var helpOf: [String: String] = [:]
        func help(_ chain: [String]) throws -> String? {
            let key = chain.joined(separator: " ")
            if let known = helpOf[key] { return known }
            let outcome = try Fixtures.run(binary, chain + ["--help"])
            let text = outcome.status == 0 ? outcome.text : nil
            // ArgumentParser prints the parent's help for an unknown subcommand: the usage line must name it.
            let real = text.flatMap { $0.contains("USAGE: consentgate \(key)") ? $0 : nil }
            helpOf[key] = real ?? ""
            return real
        }
        for (page, line) in commands {
            let words = line.split(separator: " ").map(String.init).dropFirst()
            var chain: [String] = []
            var options: [String] = []
            var takingSubcommands = true
            for word in words {
                if word.hasPrefix("-") {
                    takingSubcommands = false
                    if word == "-" || word.hasPrefix("---") { continue }
                    options.append(String(word.split(separator: "=").first ?? ""))
                    continue
                }
                if takingSubcommands, word.allSatisfy({ $0.isLowercase || $0 == "-" }),
                    try help(chain + [word]) != nil
                {
                    chain.append(word)
                } else {
                    takingSubcommands = false
                }
            }
            guard let text = try help(chain), !chain.isEmpty || words.allSatisfy({ $0.hasPrefix("--") }) else {
                XCTFail("\(page): \(line): no such subcommand")
                continue
            }
            for option in options where option != "--help" && option != "--version" {
                XCTAssertTrue(
                    text.contains(option + " ") || text.contains(option + "\n") || text.contains(option + ",")
                        || text.contains(option + ")"),
                    "\(page): `\(line)`: consentgate \(chain.joined(separator: " ")) has no option \(option)")
            }
        }
    }
}
