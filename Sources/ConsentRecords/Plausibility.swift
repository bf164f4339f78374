import Foundation

/// Records whose dates cannot be meant (#15.6): "2062" typed for "2026" must not leave a revocation waiting
/// for decades, nor an authorization valid for a century. Such a record is invalid (a doubt: it blocks the
/// authorization it names) and `authorize` refuses to write one.
public enum Plausibility {
    /// Clock skew allowed for a time (`recorded_at`, a signature's `signed_at`) that lies after now.
    public static let timeSkew: TimeInterval = 300
    /// A revocation received more than this after now is a typo, not a plan: it blocks now.
    public static let revocationLead: TimeInterval = 86_400
    /// A day (`signed_on`) may be one day ahead of today in the registry's zone (the signer's zone may be ahead).
    public static let dayLead = 1
    /// `effective` may lie at most this many days after the record was signed (about a year).
    public static let effectiveLeadDays = 366
    /// `expires` may lie at most this many years after `effective`.
    public static let maxYears = 100
    /// No day before this one is a real authorization's.
    public static let earliest = CalendarDay(year: 1900, month: 1, day: 1)

    /// Why the record is implausible at `now`, or nil. `signedAt`: when its signature says it was signed (else
    /// now).
    public static func problem(_ record: Record, signedAt: Date?, now: Date, timeZone: TimeZone) -> String? {
        let today = CalendarDay(now, in: timeZone)
        switch record {
        case .revocation(let revocation):
            if revocation.receivedAt > now.addingTimeInterval(revocationLead) {
                return "received_at lies in the future (\(Timestamp.format(revocation.receivedAt)))"
            }
        case .takedown(let takedown):
            if let at = takedown.recordedAt, at > now.addingTimeInterval(timeSkew) {
                return "recorded_at lies in the future (\(Timestamp.format(at)))"
            }
        case .takedownLift(let lift):
            if let at = lift.recordedAt, at > now.addingTimeInterval(timeSkew) {
                return "recorded_at lies in the future (\(Timestamp.format(at)))"
            }
        case .review(let review):
            if let at = review.recordedAt, at > now.addingTimeInterval(timeSkew) {
                return "recorded_at lies in the future (\(Timestamp.format(at)))"
            }
        case .authorization(let authorization):
            if let day = authorization.signedOn {
                if day < earliest { return "signed_on \(day) lies before \(earliest)" }
                if day > today.adding(days: dayLead) { return "signed_on \(day) lies in the future" }
            }
            if let at = authorization.recordedAt {
                if at > now.addingTimeInterval(timeSkew) {
                    return "recorded_at lies in the future (\(Timestamp.format(at)))"
                }
                if CalendarDay(at) < earliest { return "recorded_at lies before \(earliest)" }
            }
            if authorization.effective < earliest {
                return "effective \(authorization.effective) lies before \(earliest)"
            }
            let signedDay = CalendarDay(signedAt ?? now, in: timeZone)
            if authorization.effective > signedDay.adding(days: effectiveLeadDays) {
                return
                    "effective \(authorization.effective) lies more than \(effectiveLeadDays) days after the record was signed (\(signedDay))"
            }
            let start = authorization.effective
            let limit = CalendarDay(year: start.year + maxYears, month: start.month, day: start.day)
            if authorization.expires > limit {
                return "expires \(authorization.expires) lies more than \(maxYears) years after effective \(start)"
            }
        }
        return nil
    }
}
