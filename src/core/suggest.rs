//! "Did you mean" hints for misspelt field names: not AWS rules, a courtesy to the
//! user who typed `ResourceARN`.

/// The edit distance between two names, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The problem of an unknown field `key`: the closest of the `known` names, or else
/// `only`, which says what the object may hold.
pub fn unknown_field(key: &str, known: &[&str], only: &str) -> String {
    match closest(key, known) {
        Some(hint) => format!("unknown field; did you mean \"{hint}\"?"),
        None => format!("unknown field; {only}"),
    }
}

/// The known name closest to `unknown`: same letters in another case, or a few edits away.
pub fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    if unknown.len() > 100 {
        return None;
    }
    if let Some(same) = known.iter().find(|k| k.eq_ignore_ascii_case(unknown)) {
        return Some(same);
    }
    let lower = unknown.to_ascii_lowercase();
    if lower.len() >= 4 {
        if let Some(longer) = known.iter().find(|k| k.to_ascii_lowercase().starts_with(&lower)) {
            return Some(longer);
        }
    }
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.len() / 5).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["ResourceArn", "BackupVaultName", "IamRoleArn", "Lifecycle"];
        assert_eq!(closest("ResourceARN", &known), Some("ResourceArn"));
        assert_eq!(closest("BackupVault", &known), Some("BackupVaultName"));
        assert_eq!(closest("LifeCycle", &known), Some("Lifecycle"));
        assert_eq!(closest("Colour", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
