/// Big-endian integers and range arithmetic.
public enum Bytes {
    /// The big-endian unsigned integer of `width` bytes at `at`; 0 when it does not fit in `bytes` (callers check
    /// lengths first, so a hostile table reads as zeros rather than trapping).
    public static func be(_ bytes: [UInt8], _ at: Int, _ width: Int) -> Int {
        guard width > 0, at >= 0, at + width <= bytes.count else { return 0 }
        var value = 0
        for index in at..<(at + width) { value = value << 8 | Int(bytes[index]) }
        return value
    }

    /// `value` as `width` big-endian bytes (truncated to them).
    public static func put(_ value: Int, _ width: Int) -> [UInt8] {
        (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// Sorted, overlapping and touching ranges joined, empty ones dropped.
    public static func merge(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// The first offset where a range of `ranges` meets one of `sorted` (sorted and merged), if any.
    public static func firstOverlap(_ ranges: [Range<Int>], _ sorted: [Range<Int>]) -> Int? {
        var first: Int? = nil
        for range in ranges where !range.isEmpty {
            // The last kept range starting before this one ends.
            var low = 0
            var high = sorted.count
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid].lowerBound < range.upperBound { low = mid + 1 } else { high = mid }
            }
            if low > 0, sorted[low - 1].upperBound > range.lowerBound {
                let at = max(range.lowerBound, sorted[low - 1].lowerBound)
                first = min(first ?? at, at)
            }
        }
        return first
    }

    /// The parts of `whole` outside every range of `kept` (sorted and merged). Looks only at the ranges of `kept`
    /// that meet `whole` (found by binary search), so subtracting from many boxes costs no more than their count.
    public static func subtract(_ kept: [Range<Int>], from whole: Range<Int>) -> [Range<Int>] {
        var gaps: [Range<Int>] = []
        var at = whole.lowerBound
        var index = firstEnding(after: whole.lowerBound, in: kept)
        while index < kept.count, kept[index].lowerBound < whole.upperBound {
            let range = kept[index]
            if range.lowerBound > at { gaps.append(at..<range.lowerBound) }
            at = max(at, range.upperBound)
            index += 1
        }
        if at < whole.upperBound { gaps.append(at..<whole.upperBound) }
        return gaps
    }

    /// The index of the first range of `sorted` (sorted and merged) that ends after `offset`.
    public static func firstEnding(after offset: Int, in sorted: [Range<Int>]) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid].upperBound <= offset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The range of `sorted` (sorted and merged) that holds all of `range`, if one does.
    public static func container(of range: Range<Int>, in sorted: [Range<Int>]) -> Range<Int>? {
        let index = firstEnding(after: range.lowerBound, in: sorted)
        guard index < sorted.count, sorted[index].lowerBound <= range.lowerBound,
            range.upperBound <= sorted[index].upperBound
        else { return nil }
        return sorted[index]
    }

    /// The first offset at which two of `ranges` (empty ones aside) share a byte, if any.
    public static func firstOverlapWithin(_ ranges: [Range<Int>]) -> Int? {
        let sorted = ranges.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        var reach = Int.min
        for range in sorted {
            if range.lowerBound < reach { return range.lowerBound }
            reach = max(reach, range.upperBound)
        }
        return nil
    }
}
