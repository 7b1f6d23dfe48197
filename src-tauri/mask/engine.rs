//! String → spans. One Aho-Corasick pass finds every anchor literal of every enabled kind;
//! each hit runs only the matchers of the kinds that own that anchor. Custom patterns (user
//! regexes, which may have no literal to anchor on) run as their own regex searches.
//!
//! Overlapping candidates resolve as: earliest start, then longest, then rule order. The same
//! pass also finds text already shaped like one of the enabled rules' tokens
//! (`EC2_INSTANCE_001` typed by a user): it is masked like an identifier, so every token the
//! upstream sees was minted for this request and restoring is never ambiguous.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::catalog::{Kind, CATALOG};

/// A user-defined pattern that behaves like a built-in kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomPattern {
    /// Shown in the UI and used as the rule id (`custom:<name>`).
    pub name: String,
    /// A regex (Rust `regex` syntax); the whole match is masked.
    pub regex: String,
    /// Tokens are `{token_prefix}_{n:03}`; upper-case letters, digits and `_`.
    pub token_prefix: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("custom pattern {name:?}: the regex does not compile: {source}")]
    BadRegex {
        name: String,
        #[source]
        source: Box<regex::Error>,
    },
    #[error(
        "custom pattern {name:?}: the regex matches the empty string, which would mask nothing"
    )]
    EmptyMatch { name: String },
    #[error("custom pattern {name:?}: the token prefix {prefix:?} must be upper-case letters, digits and _, starting with a letter")]
    BadPrefix { name: String, prefix: String },
    #[error("custom pattern {name:?}: the token prefix {prefix:?} is already used by {owner}")]
    PrefixTaken {
        name: String,
        prefix: String,
        owner: String,
    },
    #[error("custom pattern needs a name")]
    EmptyName,
}

/// Where a rule's candidates come from.
enum Source {
    Builtin(&'static Kind),
    Custom(Regex),
}

/// An enabled kind or custom pattern, as the engine runs it.
pub struct Rule {
    /// `ec2_instance`, or `custom:<name>`.
    pub id: String,
    pub label: String,
    pub token_prefix: String,
    /// See [`Kind::found_by_context`].
    pub found_by_context: bool,
    source: Source,
}

/// What an anchor literal triggers.
#[derive(Clone, Copy)]
enum Target {
    /// The matcher of this rule.
    Rule(usize),
    /// `PREFIX_` of this rule's tokens: text already shaped like one of them.
    TokenShape(usize),
}

/// One identifier found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub span: Range<usize>,
    /// Index into [`Engine::rules`].
    pub rule: usize,
    /// The span is literal token-shaped text, not an identifier.
    pub token_text: bool,
}

/// The kind recorded for literal token-shaped text.
pub const TOKEN_TEXT_KIND: &str = "token_text";

/// The compiled set of enabled rules. Built once per settings change; shared read-only by
/// every request.
pub struct Engine {
    rules: Vec<Rule>,
    anchors: AhoCorasick,
    targets: Vec<Vec<Target>>,
    custom_rules: Vec<usize>,
}

impl Engine {
    /// Every built-in kind on, no custom patterns.
    pub fn with_all_builtins() -> Engine {
        Engine::new(|_| true, &[]).expect("built-in rules always compile")
    }

    /// Compiles the built-in kinds for which `enabled(id)` holds, plus `custom` patterns.
    pub fn new(
        enabled: impl Fn(&str) -> bool,
        custom: &[CustomPattern],
    ) -> Result<Engine, EngineError> {
        let mut rules: Vec<Rule> = CATALOG
            .iter()
            .filter(|k| enabled(k.id))
            .map(|k| Rule {
                id: k.id.to_owned(),
                label: k.label.to_owned(),
                token_prefix: k.token_prefix.to_owned(),
                found_by_context: k.found_by_context,
                source: Source::Builtin(k),
            })
            .collect();
        let mut custom_rules = Vec::new();
        for pattern in custom {
            let regex = validate_custom(pattern, custom)?;
            custom_rules.push(rules.len());
            rules.push(Rule {
                id: format!("custom:{}", pattern.name),
                label: pattern.name.clone(),
                token_prefix: pattern.token_prefix.clone(),
                found_by_context: false,
                source: Source::Custom(regex),
            });
        }

        let mut literals: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<Target>> = Vec::new();
        let mut add = |literal: &str, target: Target| {
            let lower = literal.to_ascii_lowercase();
            let at = literals
                .iter()
                .position(|l| *l == lower)
                .unwrap_or_else(|| {
                    literals.push(lower);
                    targets.push(Vec::new());
                    literals.len() - 1
                });
            targets[at].push(target);
        };
        for (index, rule) in rules.iter().enumerate() {
            if let Source::Builtin(kind) = rule.source {
                for anchor in kind.anchors {
                    add(anchor, Target::Rule(index));
                }
            }
            add(
                &format!("{}_", rule.token_prefix),
                Target::TokenShape(index),
            );
        }
        let anchors = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .expect("anchor literals build an automaton");
        Ok(Engine {
            rules,
            anchors,
            targets,
            custom_rules,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Finds the identifiers (and token-shaped text) in `text`, non-overlapping and in order,
    /// into `findings` (cleared first).
    pub fn scan(&self, text: &str, findings: &mut Vec<Finding>) {
        findings.clear();
        let mut spans = Vec::new();
        // Overlapping: `ami-` must not hide `i-`, nor `.amazonaws.com/` hide `.amazonaws.com`.
        for found in self.anchors.find_overlapping_iter(text) {
            let hit = found.range();
            for target in &self.targets[found.pattern().as_usize()] {
                match *target {
                    Target::Rule(rule) => {
                        let Source::Builtin(kind) = self.rules[rule].source else {
                            continue;
                        };
                        spans.clear();
                        (kind.matcher)(text, hit.clone(), &mut spans);
                        findings.extend(spans.drain(..).map(|span| Finding {
                            span,
                            rule,
                            token_text: false,
                        }));
                    }
                    Target::TokenShape(rule) => {
                        if let Some(span) = token_shape(text, hit.clone()) {
                            findings.push(Finding {
                                span,
                                rule,
                                token_text: true,
                            });
                        }
                    }
                }
            }
        }
        for &rule in &self.custom_rules {
            if let Source::Custom(regex) = &self.rules[rule].source {
                findings.extend(
                    regex
                        .find_iter(text)
                        .filter(|m| !m.is_empty())
                        .map(|m| Finding {
                            span: m.range(),
                            rule,
                            token_text: false,
                        }),
                );
            }
        }
        resolve_overlaps(findings);
    }
}

/// `PREFIX_` followed by digits, matched exactly (the anchor search ignores case).
fn token_shape(text: &str, hit: Range<usize>) -> Option<Range<usize>> {
    let t = text.as_bytes();
    if t[hit.clone()].iter().any(u8::is_ascii_lowercase) {
        return None;
    }
    let digits = t[hit.end..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (digits > 0).then(|| hit.start..hit.end + digits)
}

/// Keeps the earliest-starting candidate, the longest among those, the first rule among
/// equals; drops everything that overlaps a kept one.
fn resolve_overlaps(findings: &mut Vec<Finding>) {
    if findings.len() < 2 {
        return;
    }
    findings.sort_unstable_by(|a, b| {
        a.span
            .start
            .cmp(&b.span.start)
            .then(b.span.end.cmp(&a.span.end))
            .then(a.rule.cmp(&b.rule))
    });
    let mut kept_end = 0;
    findings.retain(|f| {
        let keep = f.span.start >= kept_end;
        if keep {
            kept_end = f.span.end;
        }
        keep
    });
}

fn validate_custom(pattern: &CustomPattern, all: &[CustomPattern]) -> Result<Regex, EngineError> {
    let name = pattern.name.trim();
    if name.is_empty() {
        return Err(EngineError::EmptyName);
    }
    let prefix = &pattern.token_prefix;
    let well_formed = prefix.starts_with(|c: char| c.is_ascii_uppercase())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !prefix.ends_with('_');
    if !well_formed {
        return Err(EngineError::BadPrefix {
            name: name.to_owned(),
            prefix: prefix.clone(),
        });
    }
    let owner = CATALOG
        .iter()
        .find(|k| k.token_prefix == prefix)
        .map(|k| k.label.to_owned())
        .or_else(|| {
            all.iter()
                .find(|c| c.token_prefix == *prefix && c.name != pattern.name)
                .map(|c| format!("custom pattern {:?}", c.name))
        });
    if let Some(owner) = owner {
        return Err(EngineError::PrefixTaken {
            name: name.to_owned(),
            prefix: prefix.clone(),
            owner,
        });
    }
    let regex = Regex::new(&pattern.regex).map_err(|e| EngineError::BadRegex {
        name: name.to_owned(),
        source: Box::new(e),
    })?;
    if regex.is_match("") {
        return Err(EngineError::EmptyMatch {
            name: name.to_owned(),
        });
    }
    Ok(regex)
}
