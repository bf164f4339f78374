import ArgumentParser
import ConsentRecords
import Foundation

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage signing keys.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an Ed25519 key pair: NAME.key (mode 0600) and NAME.pub (minisign format).",
            discussion: """
                The secret key is written unencrypted in minisign's layout (as `minisign -G -W` would), so \
                `minisign -S -s NAME.key` can sign with it too. Keep it on the privacy office's machine only. \
                The command prints the entry to add to the trust file; an administrator decides its roles. \
                Exit status: 0 written; 2 usage error or the files exist.
                """)

        @Option(help: "Key name (letters, digits, '.', '_', '-').")
        var name: String

        @Option(help: "Folder to write NAME.key and NAME.pub into.")
        var dir: String

        @Option(help: "Roles to suggest in the printed trust entry (authorize, revoke, takedown; comma-separated).")
        var roles: String = "authorize,revoke"

        func run() throws {
            let roleList = try roles.split(separator: ",").map { text -> KeyRole in
                guard let role = KeyRole(rawValue: String(text)) else { throw ValidationError("unknown role \(text)") }
                return role
            }
            do {
                let made = try KeyFiles.generate(name: name, folder: dir)
                print("secret key: \(made.secretPath) (mode 0600; never share it)")
                print("public key: \(made.publicPath)")
                print("key id:     \(made.key.publicKey.keyIDHex)")
                print("\nAdd this entry to the trust file:\n")
                print(
                    TrustStore.entry(
                        for: made.key.publicKey, roles: roleList, validFrom: CalendarDay(Date()), comment: name),
                    terminator: "")
            } catch {
                Output.error("keys generate: \(error)")
                throw ExitCode(2)
            }
        }
    }
}
