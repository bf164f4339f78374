/// A configuration error, naming the file and the key.
public struct PipelineError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// The exit status a command ends with for this error: 2 for configuration and usage errors, 3 when a run
    /// could not be brought to an end (the pipeline lock held too long, a ledger that cannot be written).
    public var exitCode: Int32
    /// Where it happened (nil for configuration and usage errors found before a run starts).
    public var stage: Stage?
    /// The asset it concerns, if one (an opaque id, never a file name).
    public var asset: String?
    public init(_ message: String, exitCode: Int32 = 2, stage: Stage? = nil, asset: String? = nil) {
        self.message = message
        self.exitCode = exitCode
        self.stage = stage
        self.asset = asset
    }
    public var description: String { message }
}
