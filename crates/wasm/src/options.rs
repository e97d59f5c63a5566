//! The options the page passes to [`crate::Agent::new`], as JSON text.

use hlsmesh_core::json::{self, Value};

/// What the page asked for; absent or `null` members take the defaults.
#[derive(Default)]
pub(crate) struct Options {
    pub trackers: Vec<String>,
    pub swarm_id: Option<String>,
    pub max_peers: Option<usize>,
    pub cache_bytes: Option<usize>,
    pub integrity: bool,
    pub upload_bytes_per_sec: Option<u64>,
    pub download_only: bool,
}

/// Why the options were refused.
fn invalid(what: &str) -> String {
    let mut s = String::from("invalid option ");
    s.push_str(what);
    s
}

/// The member `key`, unless absent or `null`.
fn member<'v>(v: &'v Value<'v>, key: &str) -> Option<&'v Value<'v>> {
    v.get(key).filter(|m| !m.is_null())
}

fn string(v: &Value<'_>, key: &str) -> Result<Option<String>, String> {
    member(v, key)
        .map(|m| m.as_str().map(str::to_owned).ok_or_else(|| invalid(key)))
        .transpose()
}

fn number(v: &Value<'_>, key: &str) -> Result<Option<u64>, String> {
    member(v, key)
        .map(|m| m.as_u64().ok_or_else(|| invalid(key)))
        .transpose()
}

fn flag(v: &Value<'_>, key: &str) -> Result<bool, String> {
    member(v, key)
        .map(|m| m.as_bool().ok_or_else(|| invalid(key)))
        .transpose()
        .map(Option::unwrap_or_default)
}

fn size(n: Option<u64>, key: &str) -> Result<Option<usize>, String> {
    n.map(|n| usize::try_from(n).map_err(|_| invalid(key)))
        .transpose()
}

impl Options {
    /// Reads `{"trackers": ["wss://…"], "swarmId"?, "maxPeers"?, "cacheBytes"?,
    /// "integrity"?, "uploadBytesPerSec"?, "downloadOnly"?}`. Other members (the shim's
    /// own `iceServers`, say) are ignored.
    pub(crate) fn parse(text: &str) -> Result<Options, String> {
        let v = json::parse(text).map_err(|e| {
            let mut s = String::from("options are not JSON: ");
            s.push_str(&e.describe());
            s
        })?;
        if !matches!(v, Value::Object(_)) {
            return Err("options are not a JSON object".into());
        }
        let trackers = match member(&v, "trackers") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .map(|t| t.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| invalid("trackers"))?,
        };
        Ok(Options {
            trackers,
            swarm_id: string(&v, "swarmId")?,
            max_peers: size(number(&v, "maxPeers")?, "maxPeers")?,
            cache_bytes: size(number(&v, "cacheBytes")?, "cacheBytes")?,
            integrity: flag(&v, "integrity")?,
            upload_bytes_per_sec: number(&v, "uploadBytesPerSec")?,
            download_only: flag(&v, "downloadOnly")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_option_and_defaults_the_rest() {
        let o = Options::parse(
            r#"{"trackers":["ws://a","ws://b"],"swarmId":"s","maxPeers":5,"cacheBytes":1024,
                "iceServers":[{"urls":"stun:x"}],"integrity":true,"uploadBytesPerSec":9,
                "downloadOnly":false,"unknown":{}}"#,
        )
        .unwrap();
        assert_eq!(o.trackers, ["ws://a", "ws://b"]);
        assert_eq!(o.swarm_id.as_deref(), Some("s"));
        assert_eq!((o.max_peers, o.cache_bytes), (Some(5), Some(1024)));
        assert!(o.integrity && !o.download_only);
        assert_eq!(o.upload_bytes_per_sec, Some(9));
        let d = Options::parse(r#"{"swarmId":null}"#).unwrap();
        assert!(d.trackers.is_empty() && d.swarm_id.is_none());
    }

    #[test]
    fn refuses_mistyped_options_by_name() {
        for (text, why) in [
            (r#"{"maxPeers":1.5}"#, "invalid option maxPeers"),
            (r#"{"trackers":"ws://a"}"#, "invalid option trackers"),
            (r#"{"trackers":[1]}"#, "invalid option trackers"),
            (r#"{"integrity":"yes"}"#, "invalid option integrity"),
            (r#"[]"#, "options are not a JSON object"),
        ] {
            assert_eq!(Options::parse(text).err().as_deref(), Some(why), "{text}");
        }
        assert!(Options::parse("{")
            .err()
            .is_some_and(|e| e.starts_with("options are not JSON")));
    }
}
