//! IAM policy documents compared by meaning, not by bytes.
//!
//! IAM returns documents URL-encoded, may reorder keys, and treats `"Action": "x"` like
//! `"Action": ["x"]` and lists of actions, resources and principals as sets. Comparing raw text
//! gives the endless spurious diffs other tools are known for; comparing canonical forms does not.

use serde_json::{Map, Value as Json};

/// Decodes a document as IAM returns it (URL-encoded JSON) or as given (plain JSON).
pub fn decode(document: &str) -> Option<Json> {
    let decoded = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_encoding::percent_decode_str(document).decode_utf8().ok()?.into_owned()
    };
    serde_json::from_str(&decoded).ok()
}

/// Keys whose values IAM treats as sets of strings.
const SET_KEYS: [&str; 6] = ["Action", "NotAction", "Resource", "NotResource", "AWS", "Service"];

/// The canonical form: single strings in set positions become one-element lists, sets are
/// sorted and deduplicated, statements are sorted, object keys are ordered.
pub fn canonical(document: &Json) -> Json {
    canonical_value(None, document)
}

fn canonical_value(key: Option<&str>, value: &Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut out = Map::new();
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                out.insert(k.clone(), canonical_value(Some(k), &map[k]));
            }
            Json::Object(out)
        }
        Json::String(s) if key.is_some_and(|k| SET_KEYS.contains(&k)) => Json::Array(vec![Json::String(s.clone())]),
        Json::Array(items) => {
            // Items of a set are plain strings; statements are objects with keys of their own.
            let mut items: Vec<Json> = items.iter().map(|i| canonical_value(None, i)).collect();
            if key.is_some_and(|k| SET_KEYS.contains(&k) || k == "Statement") {
                items.sort_by_key(|i| i.to_string());
                items.dedup();
            }
            Json::Array(items)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_by_meaning() {
        let cases = [
            (
                json!({"Statement": [{"Action": "s3:GetObject", "Effect": "Allow"}]}),
                json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}]}),
            ),
            (json!({"Statement": [{"Action": ["b", "a", "a"]}]}), json!({"Statement": [{"Action": ["a", "b"]}]})),
            (json!({"Statement": [{"Sid": "2"}, {"Sid": "1"}]}), json!({"Statement": [{"Sid": "1"}, {"Sid": "2"}]})),
            (
                json!({"Statement": [{"Principal": {"Service": "ec2.amazonaws.com"}}]}),
                json!({"Statement": [{"Principal": {"Service": ["ec2.amazonaws.com"]}}]}),
            ),
        ];
        for (a, b) in cases {
            assert_eq!(canonical(&a), canonical(&b), "{a} vs {b}");
        }
    }

    #[test]
    fn different_meaning_stays_different() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]});
        let b = json!({"Statement": [{"Effect": "Deny", "Action": "s3:GetObject"}]});
        assert_ne!(canonical(&a), canonical(&b));
        // Condition values are not sets of the kinds above; order is kept.
        let c = json!({"Statement": [{"Condition": {"StringEquals": {"k": ["a", "b"]}}}]});
        let d = json!({"Statement": [{"Condition": {"StringEquals": {"k": ["b", "a"]}}}]});
        assert_ne!(canonical(&c), canonical(&d));
    }

    #[test]
    fn decodes_url_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(decode(encoded), Some(json!({"Version": "2012-10-17"})));
        assert_eq!(decode("{\"Version\":\"2012-10-17\"}"), Some(json!({"Version": "2012-10-17"})));
        assert_eq!(decode("%7Bnot json"), None);
    }
}
