//! "Did you mean …?" for a mistyped built-in name.

/// The closest of `names` to `typed`, if it is close enough to be a plausible typo: within a third of
/// the name's length in edits (at least 2), ignoring case, `-` vs `_` and a missing `_`.
pub(super) fn closest<'a>(
    typed: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    let typed_n = norm(typed);
    let (best, distance) = names
        .into_iter()
        .map(|n| (n, edit_distance(&typed_n, &norm(n))))
        .min_by_key(|&(_, d)| d)?;
    let allowed = (typed_n.chars().count() / 3).max(2);
    (distance <= allowed).then_some(best)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of adjacent characters
/// (optimal string alignment), so `resnet05` is one edit from `resnet50`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 5] = ["vgg16", "vgg16_bn", "resnet50", "resnet18", "mobilenet_v2"];

    #[test]
    fn typos_find_the_intended_name() {
        assert_eq!(closest("vgg61", NAMES), Some("vgg16"));
        assert_eq!(closest("resnet-50", NAMES), Some("resnet50"));
        assert_eq!(closest("ResNet5", NAMES), Some("resnet50"));
        assert_eq!(closest("mobilenetv2", NAMES), Some("mobilenet_v2"));
        assert_eq!(closest("vgg16bn", NAMES), Some("vgg16_bn"));
    }

    #[test]
    fn unrelated_names_get_no_suggestion() {
        assert_eq!(closest("transformer", NAMES), None);
        assert_eq!(closest("my_model.pt", NAMES), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("resnet05", "resnet50"), 1);
    }
}
