//! The plan: pure data that says what apply will do, what needs a person,
//! and how to show it. It is serializable so it can be saved and applied later.
use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Add,
    Change,
    Remove,
}

/// Something apply will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// Stable item id, e.g. `firewall.rule`, `firewall.policy.incoming`.
    pub item: String,
    /// Human form, e.g. `ufw allow 80/tcp`.
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// What the item is about when it has parts, for JSON consumers: a Caddy change names its
    /// `site` and `header`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<std::borrow::Cow<'static, str>, String>,
}

/// Something the profile requires that harden cannot do itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// A before/after text shown as a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub title: String,
    pub before: String,
    pub after: String,
    /// Only shown with -v.
    pub verbose: bool,
}

/// A file apply writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    pub path: String,
    pub content: String,
    /// sha256 of the content the plan was made from ("" = absent).
    pub base_sha256: String,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcePlan {
    pub resource: String,
    pub changes: Vec<Change>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    pub views: Vec<View>,
    pub actions: Actions,
}

/// What each resource needs to carry out its changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actions {
    None,
    Firewall(crate::ufw::FirewallActions),
    Caddy(crate::caddy::plan::CaddyActions),
    Backup(crate::backup::plan::BackupActions),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema_version: u32,
    pub harden_version: String,
    pub profile: String,
    pub root: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub resources: Vec<ResourcePlan>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.resources.iter().flat_map(|r| r.changes.iter())
    }
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.resources.iter().flat_map(|r| r.findings.iter())
    }
    /// Why apply cannot proceed at all, if some resource says so.
    pub fn blocked(&self) -> Option<String> {
        self.resources.iter().find_map(|r| match &r.actions {
            Actions::Firewall(a) => a.blocked.as_ref().map(|b| format!("{}: {b}", r.resource)),
            Actions::Caddy(a) => a.blocked.as_ref().map(|b| format!("{}: {b}", r.resource)),
            Actions::Backup(_) | Actions::None => None,
        })
    }
    pub fn has_changes(&self) -> bool {
        self.changes().next().is_some()
    }
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes().filter(|c| c.kind == kind).count()
    }
    pub fn summary_line(&self) -> String {
        if !self.has_changes() {
            if self.findings().next().is_some() {
                // The findings are counted after this line.
                return "No changes.".into();
            }
            return "No changes. The host matches the profile.".into();
        }
        format!(
            "Plan: {} to add, {} to change, {} to remove.",
            self.count(ChangeKind::Add),
            self.count(ChangeKind::Change),
            self.count(ChangeKind::Remove)
        )
    }
}
