//! NuGet versions: normalisation and precedence. Placeholder with the API agreed with the
//! "nuget-parts" slice, which owns this file; replaced by its version at the merge.

use std::cmp::Ordering;

/// NuGet's normalised form, lower-cased (`1.0` → `1.0.0`, `1.0.0.0` → `1.0.0`, build metadata
/// dropped, `1.0.0-Beta` → `1.0.0-beta`); `None` when `v` is not a NuGet version.
pub fn normalize(v: &str) -> Option<String> {
    let v = v.trim();
    let v = v.split_once('+').map_or(v, |(a, _)| a);
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let parts: Vec<u64> = release.split('.').map(|p| p.parse::<u64>().ok()).collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut out: Vec<u64> = parts.clone();
    out.resize(out.len().max(3), 0);
    if out.len() == 4 && out[3] == 0 {
        out.truncate(3);
    }
    let mut s = out.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
    if let Some(p) = pre {
        let ok = !p.is_empty()
            && p.split('.').all(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !ok {
            return None;
        }
        s.push('-');
        s.push_str(&p.to_ascii_lowercase());
    }
    Some(s)
}

fn split(v: &str) -> (Vec<u64>, Option<String>) {
    let v = v.split_once('+').map_or(v, |(a, _)| a);
    let (r, p) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p.to_ascii_lowercase())),
        None => (v, None),
    };
    let mut nums: Vec<u64> = r.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    nums.resize(4, 0);
    (nums, p)
}

/// NuGet precedence: numbers, then a release above its prereleases, then the prerelease
/// labels (numeric identifiers numerically and below alphanumeric ones, case-insensitive).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (na, pa) = split(a);
    let (nb, pb) = split(b);
    na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let (mut xi, mut yi) = (x.split('.'), y.split('.'));
            loop {
                match (xi.next(), yi.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(p), Some(q)) => {
                        let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                            (Ok(m), Ok(n)) => m.cmp(&n),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => p.cmp(q),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                }
            }
        }
    })
}
