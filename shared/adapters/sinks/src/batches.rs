//! Splitting events into calls a service takes: at most `max_count` entries and `max_bytes` in
//! all per call, in order. An entry larger than `max_entry_bytes` can never be sent; it is set
//! apart, so the caller reports it (no retry helps) instead of failing every call.

/// The limits of one call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_count: usize,
    pub max_bytes: usize,
    pub max_entry_bytes: usize,
}

/// The calls to make (each a list of positions into the input) and the positions too large to
/// send at all.
#[derive(Debug, Default, PartialEq)]
pub struct Split {
    pub calls: Vec<Vec<usize>>,
    pub too_large: Vec<usize>,
}

/// Splits entries of `sizes` (bytes each, as the service counts them) into calls under `limits`,
/// keeping their order.
pub fn split(sizes: &[usize], limits: Limits) -> Split {
    let mut out = Split::default();
    let mut call: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (position, &size) in sizes.iter().enumerate() {
        if size > limits.max_entry_bytes || size > limits.max_bytes {
            out.too_large.push(position);
            continue;
        }
        if !call.is_empty() && (call.len() == limits.max_count || bytes + size > limits.max_bytes) {
            out.calls.push(std::mem::take(&mut call));
            bytes = 0;
        }
        call.push(position);
        bytes += size;
    }
    if !call.is_empty() {
        out.calls.push(call);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTBRIDGE: Limits = Limits {
        max_count: 10,
        max_bytes: 256 * 1024,
        max_entry_bytes: 256 * 1024,
    };

    #[test]
    fn eleven_small_entries_are_two_calls_of_ten_and_one() {
        let split = split(&[100; 11], EVENTBRIDGE);
        assert_eq!(split.calls, vec![(0..10).collect::<Vec<_>>(), vec![10]]);
        assert!(split.too_large.is_empty());
    }

    #[test]
    fn the_byte_limit_closes_a_call_before_the_count_does() {
        // Three entries of 100 KB: two fit in 256 KB, the third starts a new call.
        let split = split(&[100 * 1024; 3], EVENTBRIDGE);
        assert_eq!(split.calls, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn an_entry_over_the_limit_is_set_apart_and_the_rest_keep_their_order() {
        let split = split(&[10, 300 * 1024, 20, 256 * 1024], EVENTBRIDGE);
        assert_eq!(split.calls, vec![vec![0, 2], vec![3]]);
        assert_eq!(split.too_large, vec![1]);
    }

    #[test]
    fn firehose_takes_500_records_or_4_mib_a_call() {
        let firehose = Limits {
            max_count: 500,
            max_bytes: 4 * 1024 * 1024,
            max_entry_bytes: 1_000 * 1024,
        };
        let split_count = split(&[1_000; 1_201], firehose);
        let lens: Vec<usize> = split_count.calls.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![500, 500, 201]);
        // 900 KiB records: four fit in 4 MiB (3.5 MiB), the fifth would not.
        let split_bytes = split(&[900 * 1024; 9], firehose);
        let lens: Vec<usize> = split_bytes.calls.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![4, 4, 1]);
    }

    #[test]
    fn nothing_to_send_is_no_call() {
        assert_eq!(split(&[], EVENTBRIDGE), Split::default());
    }
}
