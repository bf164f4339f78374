import ByteKit
import ConsentRecords
import Foundation
import Hummingbird

/// What the app writes: the same signed records `consentgate authorize` and `revoke` write (RecordWriter, the
/// office key, minisign-verifiable), each shown in full before it is signed, with its document kept in the
/// evidence folder by SHA-256; and what the next run will do.
enum OfficeActions {
    struct Draft: Sendable {
        var record: Record
        var json: [UInt8]
        var document: FormData.Upload
        /// The card it was made from (authorizations).
        var asset: String?
    }

    static func esc(_ text: String) -> String { OfficePages.esc(text) }

    static func draftAuthorization(_ form: FormData, state: OfficeState) async -> Response {
        let settings = state.settings
        let asset = form["asset"] ?? ""
        func again(_ why: String) async -> Response {
            await OfficePages.authorizeForm(state: state, asset: asset, error: why)
        }
        guard case .success(let export) = ExportData.load(folder: settings.export), let card = export.card(asset),
            let presented = card.presentedSha256
        else { return OfficeServer.page(.notFound, "Not found", "<p>No such picture in the export.</p>") }
        guard let id = form.text("id"), RecordParser.isValidID(id) else {
            return await again("The authorization id must be 1 to 128 letters, digits, '.', '_' or '-'.")
        }
        guard let subject = form.text("subject"), RecordParser.isValidSubject(subject) else {
            return await again("The subject is a pseudonymous reference (letters, digits, '.', '_', ':', '-'; never a name).")
        }
        let channels = (form.text("channels") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        guard !channels.isEmpty, channels.allSatisfy(RecordParser.isValidChannel), Set(channels).count == channels.count
        else { return await again("Channels: lower-case names separated by commas, each once (e.g. website,print).") }
        guard let effective = form.text("effective").flatMap(CalendarDay.init),
            let expires = form.text("expires").flatMap(CalendarDay.init),
            let signedOn = form.text("signed_on").flatMap(CalendarDay.init)
        else { return await again("Give the days as YYYY-MM-DD: effective, expires and signed on.") }
        let today = CalendarDay(Date(), in: settings.timeZone)
        guard expires > today, expires > effective else {
            return await again("The expiry day must lie after today and after the first day it applies.")
        }
        let people = Int(form.text("people") ?? "1") ?? 0
        guard (1...100).contains(people) else { return await again("People in the picture: 1 to 100.") }
        guard let document = form.files["form"], !document.bytes.isEmpty else {
            return await again("Attach the signed form: the record names it, and the office keeps it in evidence.")
        }
        let kind = form.text("signer") == "representative" ? "representative" : "patient"
        guard FileManager.default.fileExists(atPath: settings.authorizations) else {
            return await again("The authorizations folder \(settings.authorizations) is not there (a share not mounted?).")
        }
        if FileManager.default.fileExists(atPath: (settings.authorizations as NSString).appendingPathComponent(id + ".json")) {
            return await again("A record with the id \(id) exists already: records are never replaced.")
        }
        let now = Date()
        let authorization = Authorization(
            id: id, subject: subject, coveredEntity: settings.defaults.coveredEntity, purposes: [ConsentPolicy.purpose],
            channels: channels, recipients: settings.defaults.recipients,
            assets: [AssetReference(presentedSHA256: presented, fileSHA256: nil, peopleInFrame: people > 1 ? people : nil)],
            effective: effective, expires: expires, signedOn: signedOn,
            signer: .init(kind: kind, authority: form.text("authority")),
            form: .init(templateID: settings.defaults.templateID, documentSHA256: sha256Hex(document.bytes)),
            recordedBy: settings.defaults.recordedBy, recordedAt: now)
        let json = RecordWriter.json(authorization)
        do { _ = try RecordParser.parse(json) } catch { return await again("The record would be invalid: \(error)") }
        if let problem = Plausibility.problem(
            .authorization(authorization), signedAt: now, now: now, timeZone: settings.timeZone)
        {
            return await again("The record would be invalid: \(problem)")
        }
        let draft = Draft(record: .authorization(authorization), json: json, document: document, asset: asset)
        return confirmPage(draft, id: await state.keep(draft), state: state, next: nextRunForecast(card, adding: authorization))
    }

    /// What the next run would do with the new authorization, before it is signed: by the people count.
    static func nextRunForecast(_ card: ExportData.Card, adding authorization: Authorization) -> String {
        guard authorization.channels.contains(card.channel) else {
            return "It does not permit the channel \(card.channel): the picture stays in quarantine."
        }
        let required = max(card.consent?.required ?? 1, authorization.assets.first?.peopleInFrame ?? 1)
        var subjects = Set((card.consent?.consented ?? []).map { $0.lowercased() })
        subjects.insert(authorization.subject.lowercased())
        if subjects.count >= required {
            return "With it, \(subjects.count) of \(required) consented: the next run publishes the picture"
                + " (unless another reason holds it)."
        }
        return "With it, \(subjects.count) of \(required) consented: the picture waits for \(required - subjects.count) more."
    }

    static func draftRevocation(_ form: FormData, state: OfficeState) async -> Response {
        let settings = state.settings
        let target = form.text("authorization") ?? ""
        func again(_ why: String) async -> Response { await OfficePages.revokeForm(state: state, id: target, error: why) }
        guard case .success(let live) = LiveRecords.load(settings, now: Date()),
            let id = live.registry.authorizationID(matching: target)
        else { return await again("No valid authorization has the id \(target) (search the records).") }
        guard let received = form.text("received_at").flatMap(Timestamp.parse) else {
            return await again("Received at: RFC 3339, e.g. 2026-05-01T09:30:00Z.")
        }
        var scope: [String]? = nil
        if let channels = form.text("channels") {
            let list = channels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard list.allSatisfy(RecordParser.isValidChannel) else { return await again("Channels: lower-case names.") }
            scope = list
        }
        guard let letter = form.files["letter"], !letter.bytes.isEmpty else {
            return await again("Attach the written revocation: the record names it, and the office keeps it.")
        }
        let stamp = Timestamp.format(received).filter { $0.isNumber || $0 == "T" || $0 == "Z" }
        let revocation = Revocation(
            id: "\(id)-revoked-\(stamp)", authorization: id, receivedAt: received, channels: scope,
            evidenceSHA256: sha256Hex(letter.bytes), recordedBy: settings.defaults.recordedBy)
        let json = RecordWriter.json(revocation)
        do { _ = try RecordParser.parse(json) } catch { return await again("The record would be invalid: \(error)") }
        if let problem = Plausibility.problem(
            .revocation(revocation), signedAt: Date(), now: Date(), timeZone: settings.timeZone)
        {
            return await again("The record would be invalid: \(problem)")
        }
        var next = "The next run retracts every picture published under \(id) (and its supersedes chain)"
        if case .success(let export) = ExportData.load(folder: settings.export) {
            let under = export.live.filter { $0.records.contains { $0.lowercased() == id.lowercased() } }
            next += under.isEmpty ? "; none is live under it now." : ": live now, " + under.map(\.publishedName).joined(separator: ", ") + "."
        }
        let draft = Draft(record: .revocation(revocation), json: json, document: letter, asset: nil)
        return confirmPage(draft, id: await state.keep(draft), state: state, next: next)
    }

    static func confirmPage(_ draft: Draft, id: String, state: OfficeState, next: String) -> Response {
        let hash = sha256Hex(draft.document.bytes)
        var html = "<p>Check the record. Nothing is written until you sign it.</p>\n"
        html += "<pre class=\"record\">\(esc(String(decoding: draft.json, as: UTF8.self)))</pre>\n"
        html += "<p>The document \(esc(draft.document.filename)) (\(draft.document.bytes.count) bytes), SHA-256 "
        html += "<code>\(hash)</code>, "
        html += state.settings.evidence == nil
            ? "is named by its hash only: no evidence folder was given, so keep the file yourself.</p>\n"
            : "is kept in the evidence folder under its hash.</p>\n"
        html += "<p class=\"next\">\(esc(next))</p>\n"
        html += "<form method=\"post\" action=\"/confirm\">\(OfficePages.hidden(state))"
        html += "<input type=\"hidden\" name=\"draft\" value=\"\(id)\"><button type=\"submit\" id=\"sign\">Sign and record</button></form>\n"
        return OfficeServer.page(.ok, "Before signing", html, state: state)
    }

    static func confirm(_ form: FormData, state: OfficeState) async -> Response {
        guard let id = form["draft"], let draft = await state.take(id) else {
            return OfficeServer.page(
                .notFound, "Nothing to sign", "<p>That draft was signed already or is gone. <a href=\"/\">Back</a></p>",
                state: state)
        }
        let settings = state.settings
        var kept = "named by its hash only (no evidence folder)"
        do {
            if let evidence = settings.evidence {
                let hash = try EvidenceFolder.store(draft.document.bytes, from: draft.document.filename, in: evidence)
                kept = "kept in the evidence folder as " + (EvidenceFolder.find(hash, in: evidence).map { ($0 as NSString).lastPathComponent } ?? hash)
            }
            let path = try RecordWriter.write(draft.json, record: draft.record, to: settings.authorizations, key: settings.key)
            var html = "<p class=\"good\">Written \(esc((path as NSString).lastPathComponent)) and its signature "
            html += "(key \(settings.key.publicKey.keyIDHex)) into the authorizations folder; the document is \(esc(kept)).</p>\n"
            html += "<p class=\"next\">\(esc(nextRun(draft, settings: settings)))</p>\n"
            html += "<p><a href=\"/\">Back to the pending pictures</a> · <a href=\"/records?q=\(esc(draft.record.id))\">The record</a></p>"
            return OfficeServer.page(.ok, "Recorded", html, state: state)
        } catch {
            return OfficeServer.page(
                .internalServerError, "Not written", "<p class=\"problem\">\(esc("\(error)"))</p>", state: state)
        }
    }

    /// What the next run will do, by the records as they are now (the new one included).
    static func nextRun(_ draft: Draft, settings: OfficeSettings) -> String {
        let now = Date()
        switch draft.record {
        case .authorization:
            guard let asset = draft.asset, case .success(let export) = ExportData.load(folder: settings.export),
                let card = export.card(asset)
            else { return "The next run decides the picture against this record." }
            guard case .success(let live) = LiveRecords.load(settings, now: now) else {
                return "The next run decides the picture against this record (no trust file given to check it here)."
            }
            let decision = live.decision(card, now: now)
            if decision.approved { return "The next run publishes the picture (\(live.standing(card, now: now).summary))." }
            return "The next run still keeps it in quarantine: "
                + decision.reasons.map(\.description).joined(separator: "; ") + "."
        case .revocation(let revocation):
            var text = "The next run retracts what is published under \(revocation.authorization)"
            if case .success(let export) = ExportData.load(folder: settings.export) {
                let under = export.live.filter { $0.records.contains { $0.lowercased() == revocation.authorization.lowercased() } }
                text += under.isEmpty ? " (nothing is live under it now)." : ": " + under.map(\.publishedName).joined(separator: ", ") + "."
            }
            return text
        default: return "The next run reads this record."
        }
    }
}
