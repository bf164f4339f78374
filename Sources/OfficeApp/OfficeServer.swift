import ConsentRecords
import Foundation
import Hummingbird
import Logging

/// What `consentgate office` is given: where the gate's export and the records are, the office's key (held in
/// memory, never served), the evidence folder and the office's defaults.
public struct OfficeSettings: Sendable {
    public var export: String
    public var authorizations: String
    public var trust: String?
    public var evidence: String?
    public var defaults: OfficeDefaults
    public var key: Minisign.SecretKey
    /// 0: any free port.
    public var port: Int
    public var timeZone: TimeZone

    public init(
        export: String, authorizations: String, trust: String?, evidence: String?, defaults: OfficeDefaults,
        key: Minisign.SecretKey, port: Int, timeZone: TimeZone
    ) {
        self.export = export
        self.authorizations = authorizations
        self.trust = trust
        self.evidence = evidence
        self.defaults = defaults
        self.key = key
        self.port = port
        self.timeZone = timeZone
    }
}

/// The office app's server: bound to 127.0.0.1 only; every request needs the random token the start line prints
/// (then a cookie), a Host header naming this loopback address and port (against DNS rebinding), and every form
/// the CSRF token of this start. Pages are rendered here as plain HTML; no file is served but previews by name.
public enum OfficeServer {
    static let cookieName = "consentgate_office"
    static let maxBody = 64 << 20

    /// Runs until SIGTERM or SIGINT. `announce` receives the address to open once the server listens.
    public static func run(_ settings: OfficeSettings, announce: @escaping @Sendable (String) -> Void) async throws {
        let state = OfficeState(settings: settings, token: randomHex(32), csrf: randomHex(32))
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await respond(request, state: state)
        }
        var logger = Logger(label: "consentgate-office")
        logger.logLevel = .error
        let token = state.token
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: settings.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                await state.listening(on: port)
                announce("http://127.0.0.1:\(port)/?token=\(token)")
            },
            logger: logger)
        try await app.runService()
    }

    static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Equal in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    static func respond(_ request: Request, state: OfficeState) async -> Response {
        let port = await state.port
        // DNS rebinding: a page on another name that resolves to 127.0.0.1 sends its own name as Host.
        let host = request.head.authority ?? ""
        guard host == "127.0.0.1:\(port)" || host == "localhost:\(port)" else {
            return page(.forbidden, "Refused", "<p>This app answers only to 127.0.0.1:\(port).</p>")
        }
        if let given = request.uri.queryParameters["token"] {
            guard same(String(given), state.token) else {
                return page(.forbidden, "Refused", "<p>Wrong token: open the address consentgate office printed.</p>")
            }
            // The token leaves the address bar: a cookie for this host only carries it from now on.
            // Only a path of this app ("//host" would leave it).
            let path = request.uri.path
            let back = path.hasPrefix("/") && !path.hasPrefix("//") && !path.contains("\\") ? path : "/"
            var response = Response(status: .seeOther, headers: [.location: back])
            response.setCookie(
                Cookie(name: cookieName, value: state.token, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        guard let cookie = request.cookies[cookieName]?.value, same(cookie, state.token) else {
            return page(
                .forbidden, "Refused",
                "<p>Open the address <code>consentgate office</code> printed when it started (it carries a token).</p>")
        }
        var form = FormData()
        if request.method == .post {
            // A form from another page (another origin) is refused even before its CSRF field is looked at.
            if let origin = request.headers[.origin], origin != "http://\(host)" {
                return page(.forbidden, "Refused", "<p>A form from another site.</p>")
            }
            var request = request
            guard let body = try? await request.collectBody(upTo: maxBody),
                let parsed = FormData.parse(
                    contentType: request.headers[.contentType] ?? "", body: Array(body.readableBytesView))
            else {
                return page(.badRequest, "Refused", "<p>The form could not be read (at most 64 MiB).</p>")
            }
            guard let csrf = parsed["csrf"], same(csrf, state.csrf) else {
                return page(.forbidden, "Refused", "<p>The form lacks this session's CSRF token: reload the page.</p>")
            }
            form = parsed
        }
        let path = request.uri.path
        switch (request.method, path) {
        case (.get, "/"): return await OfficePages.cards(state: state)
        case (.get, "/records"):
            return await OfficePages.records(state: state, query: request.uri.queryParameters["q"].map(String.init) ?? "")
        case (.get, "/live"): return await OfficePages.live(state: state)
        case (.get, "/authorize"):
            return await OfficePages.authorizeForm(
                state: state, asset: request.uri.queryParameters["asset"].map(String.init) ?? "")
        case (.post, "/authorize"): return await OfficeActions.draftAuthorization(form, state: state)
        case (.get, "/revoke"):
            return await OfficePages.revokeForm(state: state, id: request.uri.queryParameters["id"].map(String.init) ?? "")
        case (.post, "/revoke"): return await OfficeActions.draftRevocation(form, state: state)
        case (.post, "/confirm"): return await OfficeActions.confirm(form, state: state)
        case (.get, _) where path.hasPrefix("/previews/"): return preview(path, state: state)
        default: return page(.notFound, "Not found", "<p>No such page. <a href=\"/\">The pending pictures</a></p>")
        }
    }

    /// `/previews/ASSET.jpg` from the export's previews folder, ASSET being 32 hexadecimal digits: nothing else.
    static func preview(_ path: String, state: OfficeState) -> Response {
        let name = String(path.dropFirst("/previews/".count))
        guard name.count == 36, name.hasSuffix(".jpg"), name.dropLast(4).allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
            let data = FileManager.default.contents(
                atPath: (state.settings.export as NSString).appendingPathComponent("previews/" + name))
        else { return page(.notFound, "Not found", "<p>No such preview.</p>") }
        return Response(
            status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func page(_ status: HTTPResponse.Status, _ title: String, _ body: String, state: OfficeState? = nil)
        -> Response
    {
        let html = OfficePages.layout(title: title, body: body, csrf: state?.csrf)
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy:
                    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}

/// What one start of the app holds: its token and CSRF token, the port, and the drafts shown before signing.
actor OfficeState {
    nonisolated let settings: OfficeSettings
    nonisolated let token: String
    nonisolated let csrf: String
    private(set) var port = 0
    private var drafts: [String: OfficeActions.Draft] = [:]

    init(settings: OfficeSettings, token: String, csrf: String) {
        self.settings = settings
        self.token = token
        self.csrf = csrf
    }

    func listening(on port: Int) { self.port = port }

    func keep(_ draft: OfficeActions.Draft) -> String {
        let id = OfficeServer.randomHex(16)
        drafts[id] = draft
        return id
    }

    /// A draft is used once.
    func take(_ id: String) -> OfficeActions.Draft? { drafts.removeValue(forKey: id) }
}
