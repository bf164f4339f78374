/// ConsentGate's version: the one place it is written. `consentgate --version` prints it; Scripts/package reads it
/// from this file for the Debian package and the man pages. Bump it with a CHANGELOG.md entry.
enum ConsentGateVersion {
    static let current = "0.8.0"
}
