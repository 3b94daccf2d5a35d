//! Merge the observed rule lists with the desired ones. Rules harden does not
//! manage keep their positions; managed rules take the managed slots in
//! profile order; new ones go after.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::rule::{MatchKey, Rule};

/// One family's merge result.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    pub rules: Vec<Rule>,
    pub added: Vec<Rule>,
    pub removed: Vec<Rule>,
    /// (old, new) for rules ufw sees as the same but with another action, log or comment.
    pub updated: Vec<(Rule, Rule)>,
    pub moved: Vec<Rule>,
}

/// `keep(rule)` says whether an unmanaged rule stays when purging.
pub fn merge(observed: &[Rule], desired: &[Rule], purge: bool, keep: &dyn Fn(&Rule) -> bool) -> Merged {
    let want: HashMap<MatchKey, usize> = desired.iter().enumerate().map(|(i, r)| (r.key(), i)).collect();
    let mut out = Merged::default();
    let mut queue = desired.iter();
    for o in observed {
        let k = o.key();
        if want.contains_key(&k) {
            // A managed slot: filled by the next desired rule in order.
            if let Some(d) = queue.next() {
                out.rules.push(d.clone());
            }
        } else if !purge || keep(o) {
            out.rules.push(o.clone());
        } else {
            out.removed.push(o.clone());
        }
    }
    for d in queue {
        out.rules.push(d.clone());
    }
    // Classify against the observed list.
    let mut seen_obs: HashMap<MatchKey, &Rule> = HashMap::default();
    for o in observed {
        seen_obs.entry(o.key()).or_insert(o);
    }
    let mut counted: HashSet<MatchKey> = HashSet::default();
    for o in observed {
        let k = o.key();
        if want.contains_key(&k) && !counted.insert(k) {
            // A second tuple with the same match key collapses into the first.
            out.removed.push(o.clone());
        }
    }
    for d in desired {
        match seen_obs.get(&d.key()) {
            None => out.added.push(d.clone()),
            Some(o) if *o != d => out.updated.push(((*o).clone(), d.clone())),
            _ => {}
        }
    }
    // Moves: rules present before and after whose relative order changed.
    let final_keys: HashSet<MatchKey> = out.rules.iter().map(Rule::key).collect();
    let before: Vec<MatchKey> = observed.iter().map(Rule::key).filter(|k| final_keys.contains(k)).collect();
    let after: Vec<MatchKey> = out.rules.iter().map(Rule::key).filter(|k| seen_obs.contains_key(k)).collect();
    let stay = lcs(&before, &after);
    for r in &out.rules {
        let k = r.key();
        if seen_obs.contains_key(&k) && !stay.contains(&k) {
            out.moved.push(r.clone());
        }
    }
    out
}

fn lcs<'a>(a: &[MatchKey<'a>], b: &[MatchKey<'a>]) -> HashSet<MatchKey<'a>> {
    // Quadratic LCS is fine for the reordered part; skip the common prefix
    // and suffix first so that thousands of unchanged rules cost nothing.
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf] {
        suf += 1;
    }
    let mut keep: HashSet<MatchKey> = a[..pre].iter().chain(a[a.len() - suf..].iter()).copied().collect();
    let (x, y) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let (n, m) = (x.len(), y.len());
    if n * m > 4_000_000 {
        return keep; // absurd reorderings: report all as moved rather than burn time
    }
    let mut t = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i][j] = if x[i] == y[j] { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if x[i] == y[j] {
            keep.insert(x[i]);
            i += 1;
            j += 1;
        } else if t[i + 1][j] >= t[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    keep
}
