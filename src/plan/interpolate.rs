//! `{user_id}`-style placeholders in plan strings.
//!
//! Names in a plan are written once, with placeholders, so that a new environment or user id
//! gives new, non-colliding names everywhere. `{{` and `}}` stand for literal braces.

use super::rules::Invalid;

/// The values placeholders may refer to.
#[derive(Debug, Clone)]
pub struct Variables<'a> {
    /// `(name, value)` pairs, such as `("user_id", "0a1b2c3d4e5f")`.
    pub pairs: Vec<(&'static str, &'a str)>,
}

impl Variables<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Replaces every placeholder in `template`.
    pub fn expand(&self, template: &str) -> Result<String, Invalid> {
        let names = || self.pairs.iter().map(|(n, _)| format!("{{{n}}}")).collect::<Vec<_>>().join(", ");
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(i) = rest.find(['{', '}']) {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                out.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                out.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err(Invalid { reason: "unmatched `}`".into(), hint: Some("write `}}` for a literal brace".into()) });
            } else {
                let Some(end) = tail.find('}') else {
                    return Err(Invalid {
                        reason: "unclosed `{` placeholder".into(),
                        hint: Some(format!("placeholders are {}; write `{{{{` for a literal brace", names())),
                    });
                };
                let name = &tail[1..end];
                match self.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        return Err(Invalid {
                            reason: format!("unknown placeholder `{{{name}}}`"),
                            hint: Some(format!("placeholders are {}", names())),
                        });
                    }
                }
                rest = &tail[end + 1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables<'static> {
        Variables { pairs: vec![("user_id", "0a1b"), ("env", "dev")] }
    }

    #[test]
    fn expands_placeholders_and_escapes() {
        let cases = [
            ("user-{user_id}-bucket", "user-0a1b-bucket"),
            ("{env}-{user_id}", "dev-0a1b"),
            ("plain", "plain"),
            ("{{literal}}", "{literal}"),
            ("", ""),
        ];
        for (template, expected) in cases {
            assert_eq!(vars().expand(template).unwrap(), expected, "{template}");
        }
    }

    #[test]
    fn rejects_bad_placeholders() {
        for bad in ["{nope}", "{user_id", "x}", "{", "{}"] {
            assert!(vars().expand(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(template in ".*") {
            let _ = vars().expand(&template);
        }

        #[test]
        fn text_without_braces_is_unchanged(template in "[^{}]*") {
            proptest::prop_assert_eq!(vars().expand(&template).unwrap(), template);
        }
    }
}
