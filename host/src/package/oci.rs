//! A small OCI distribution client: blobs and manifests by digest or tag,
//! `tags/list` and `_catalog`, over HTTPS (plain HTTP only for loopback or
//! when asked), anonymous or with credentials from the environment (basic,
//! or a bearer token fetched from the registry's token service).

use super::artifact::{MANIFEST_MEDIA_TYPE, digest};
use std::cell::RefCell;
use std::time::Duration;

/// Largest manifest or index this client reads.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Largest blob (component) this client reads.
pub const MAX_BLOB: u64 = 256 << 20;
/// Environment variables holding registry credentials.
pub const USER_ENV: &str = "HOST_REGISTRY_USER";
/// See [`USER_ENV`].
pub const PASSWORD_ENV: &str = "HOST_REGISTRY_PASSWORD";

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The registry could not be reached or the exchange broke.
    #[error("registry {registry}: {what} failed: {detail}")]
    Transport {
        /// Registry host.
        registry: String,
        /// What was attempted.
        what: String,
        /// What went wrong, with the fix when known.
        detail: String,
    },
    /// The registry answered with an unexpected status.
    #[error("registry {registry}: {what} answered HTTP {status}{}{hint}", if body.is_empty() { String::new() } else { format!(" ({body})") })]
    Status {
        /// Registry host.
        registry: String,
        /// What was attempted.
        what: String,
        /// HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// Content did not match its digest, or is malformed.
    #[error("registry {registry}: {what}: {detail}")]
    Content {
        /// Registry host.
        registry: String,
        /// What was fetched.
        what: String,
        /// What is wrong.
        detail: String,
    },
}

/// Credentials sent when the registry asks for them.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password or token.
    pub password: String,
}

impl Credentials {
    /// Credentials from `HOST_REGISTRY_USER` / `HOST_REGISTRY_PASSWORD`, if both are set.
    pub fn from_env() -> Option<Credentials> {
        Some(Credentials {
            user: std::env::var(USER_ENV).ok()?,
            password: std::env::var(PASSWORD_ENV).ok()?,
        })
    }

    /// Credentials for `registry`: the environment's, else the `auth` entry
    /// for it in Docker's config.json (`$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`; credential helpers are not run).
    pub fn lookup(registry: &str) -> Option<Credentials> {
        Self::from_env().or_else(|| {
            let dir = std::env::var_os("DOCKER_CONFIG")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker"))
                })?;
            let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
            Self::from_docker_config(&text, registry)
        })
    }

    /// The `auths` entry for `registry` in a Docker config.json.
    pub fn from_docker_config(text: &str, registry: &str) -> Option<Credentials> {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        let (_, entry) = json["auths"].as_object()?.iter().find(|(key, _)| {
            let host = key
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            host == registry
        })?;
        let decoded = unbase64(entry["auth"].as_str()?)?;
        let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        Some(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    fn basic(&self) -> String {
        format!(
            "Basic {}",
            base64(format!("{}:{}", self.user, self.password).as_bytes())
        )
    }
}

/// Standard base64 with padding (for the Basic scheme only).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` if it is not base64.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.trim().trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = bits << 6 | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

/// Whether a registry host is this machine, where plain HTTP is acceptable.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => registry.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Parameters of a `WWW-Authenticate: Bearer realm=..,service=..,scope=..` challenge.
fn bearer_challenge(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| header.trim().strip_prefix("bearer "))?;
    let mut params = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let (value, after) = match after.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"')?;
                (&q[..end], &q[end + 1..])
            }
            None => after.split_once(',').map_or((after, ""), |(v, a)| (v, a)),
        };
        params.push((key.trim().to_string(), value.to_string()));
        s = after.trim_start_matches([',', ' ']);
    }
    Some(params)
}

/// A response: status, selected headers and body.
struct Reply {
    status: u16,
    location: Option<String>,
    link: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// One request, apart from its URL and credentials.
#[derive(Clone, Copy)]
struct Exchange<'a> {
    method: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: Option<&'a [u8]>,
    /// Largest response body accepted.
    limit: u64,
    /// What is being done, for errors.
    what: &'a str,
}

/// A connection to one registry.
pub struct Registry {
    host: String,
    base: String,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    /// Authorization header that last worked, reused for later requests.
    auth: RefCell<Option<String>>,
}

impl Registry {
    /// A client for `host` (`name[:port]`): HTTPS, or HTTP for loopback or with `insecure`.
    pub fn new(host: &str, insecure: bool, credentials: Option<Credentials>) -> Registry {
        let scheme = if insecure || is_loopback(host) {
            "http"
        } else {
            "https"
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::NativeTls)
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .new_agent();
        Registry {
            host: host.to_string(),
            base: format!("{scheme}://{host}"),
            agent,
            credentials,
            auth: RefCell::new(None),
        }
    }

    /// The registry host.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn transport(&self, what: &str, e: impl std::fmt::Display) -> OciError {
        let e = e.to_string();
        let hint = if e.contains("refused") {
            "; is the registry running at this address?"
        } else if self.base.starts_with("https")
            && (e.contains("ssl") || e.contains("SSL") || e.contains("tls"))
        {
            "; for a registry without TLS pass --insecure"
        } else {
            ""
        };
        OciError::Transport {
            registry: self.host.clone(),
            what: what.to_string(),
            detail: format!("{e}{hint}"),
        }
    }

    fn once(
        &self,
        call: &Exchange<'_>,
        url: &str,
        auth: Option<&str>,
    ) -> Result<(Reply, Option<String>), OciError> {
        let Exchange {
            method,
            headers,
            body,
            limit,
            what,
        } = *call;
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = match body {
            Some(b) => self
                .agent
                .run(req.body(b).map_err(|e| self.transport(what, e))?),
            None => self
                .agent
                .run(req.body(()).map_err(|e| self.transport(what, e))?),
        };
        let mut resp = resp.map_err(|e| self.transport(what, e))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let challenge = header("www-authenticate");
        let reply = Reply {
            status: resp.status().as_u16(),
            location: header("location"),
            link: header("link"),
            content_type: header("content-type"),
            body: Vec::new(),
        };
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| self.transport(what, e))?
        };
        Ok((Reply { body, ..reply }, challenge))
    }

    /// Sends a request; on 401 answers the challenge once (basic, or a bearer
    /// token from the registry's token service) and retries.
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        limit: u64,
        what: &str,
    ) -> Result<Reply, OciError> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let call = Exchange {
            method,
            headers,
            body,
            limit,
            what,
        };
        let auth = self.auth.borrow().clone();
        let (reply, challenge) = self.once(&call, &url, auth.as_deref())?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let Some(fresh) = self.answer(challenge.as_deref().unwrap_or(""), what)? else {
            return Ok(reply);
        };
        if auth.as_deref() == Some(fresh.as_str()) {
            return Ok(reply);
        }
        *self.auth.borrow_mut() = Some(fresh.clone());
        Ok(self.once(&call, &url, Some(&fresh))?.0)
    }

    /// The Authorization header that answers a challenge, if we can answer it.
    fn answer(&self, challenge: &str, what: &str) -> Result<Option<String>, OciError> {
        if challenge
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("basic")
        {
            return Ok(self.credentials.as_ref().map(Credentials::basic));
        }
        let Some(params) = bearer_challenge(challenge) else {
            return Ok(None);
        };
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let Some(realm) = get("realm") else {
            return Ok(None);
        };
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for key in ["service", "scope"] {
            if let Some(v) = get(key) {
                url.push_str(&format!(
                    "{sep}{key}={}",
                    crate::db::connect::percent_encode(v)
                ));
                sep = '&';
            }
        }
        let basic = self.credentials.as_ref().map(Credentials::basic);
        let token_what = format!("{what} (token from {realm})");
        let token_call = Exchange {
            method: "GET",
            headers: &[],
            body: None,
            limit: MAX_MANIFEST,
            what: &token_what,
        };
        let (reply, _) = self.once(&token_call, &url, basic.as_deref())?;
        if reply.status != 200 {
            return Err(self.status(&token_what, &reply));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|e| OciError::Content {
                registry: self.host.clone(),
                what: token_what.clone(),
                detail: format!("the token service answered something that is not JSON: {e}"),
            })?;
        Ok(json["token"]
            .as_str()
            .or(json["access_token"].as_str())
            .map(|t| format!("Bearer {t}")))
    }

    fn status(&self, what: &str, reply: &Reply) -> OciError {
        let hint = match reply.status {
            401 | 403 => {
                "; set HOST_REGISTRY_USER and HOST_REGISTRY_PASSWORD to credentials allowed to do this"
            }
            404 => "; check the registry, repository and tag or digest",
            _ => "",
        };
        let body: String = String::from_utf8_lossy(&reply.body)
            .chars()
            .take(300)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        OciError::Status {
            registry: self.host.clone(),
            what: what.to_string(),
            status: reply.status,
            body: body.trim().to_string(),
            hint,
        }
    }

    /// Fetches a manifest by tag or digest: its bytes and digest. A manifest
    /// fetched by digest is checked against it.
    pub fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Vec<u8>, String)>, OciError> {
        let what = format!("fetching manifest {repo}:{reference}");
        let reply = self.send(
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", MANIFEST_MEDIA_TYPE)],
            None,
            MAX_MANIFEST,
            &what,
        )?;
        if reply.status == 404 {
            return Ok(None);
        }
        if reply.status != 200 {
            return Err(self.status(&what, &reply));
        }
        if let Some(ct) = &reply.content_type
            && !ct.starts_with(MANIFEST_MEDIA_TYPE)
        {
            return Err(OciError::Content {
                registry: self.host.clone(),
                what,
                detail: format!(
                    "it is a {ct}, not an OCI image manifest; this is not a migration package"
                ),
            });
        }
        let actual = digest(&reply.body);
        if reference.starts_with("sha256:") && actual != reference {
            return Err(OciError::Content {
                registry: self.host.clone(),
                what,
                detail: format!("the registry sent content with digest {actual}; it was altered"),
            });
        }
        Ok(Some((reply.body, actual)))
    }

    /// Fetches a blob and checks it against its digest.
    pub fn blob(&self, repo: &str, blob_digest: &str, what: &str) -> Result<Vec<u8>, OciError> {
        let what = format!("fetching {what} ({blob_digest})");
        let reply = self.send(
            "GET",
            &format!("/v2/{repo}/blobs/{blob_digest}"),
            &[],
            None,
            MAX_BLOB,
            &what,
        )?;
        if reply.status != 200 {
            return Err(self.status(&what, &reply));
        }
        let actual = digest(&reply.body);
        if actual != blob_digest {
            return Err(OciError::Content {
                registry: self.host.clone(),
                what,
                detail: format!(
                    "the registry sent {} bytes with digest {actual}: the content was tampered with or corrupted",
                    reply.body.len()
                ),
            });
        }
        Ok(reply.body)
    }

    /// Uploads a blob unless the repository has it already.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> Result<String, OciError> {
        let d = digest(bytes);
        let what = format!("uploading blob {d} to {repo}");
        let head = self.send(
            "HEAD",
            &format!("/v2/{repo}/blobs/{d}"),
            &[],
            None,
            0,
            &what,
        )?;
        if head.status == 200 {
            return Ok(d);
        }
        let start = self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Some(&[]),
            MAX_MANIFEST,
            &what,
        )?;
        if start.status != 202 {
            return Err(self.status(&what, &start));
        }
        let location = start.location.ok_or_else(|| OciError::Content {
            registry: self.host.clone(),
            what: what.clone(),
            detail: "the registry started an upload without a Location".to_string(),
        })?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!(
            "{location}{sep}digest={}",
            crate::db::connect::percent_encode(&d)
        );
        let done = self.send(
            "PUT",
            &url,
            &[("Content-Type", "application/octet-stream")],
            Some(bytes),
            MAX_MANIFEST,
            &what,
        )?;
        if done.status != 201 {
            return Err(self.status(&what, &done));
        }
        Ok(d)
    }

    /// Uploads a manifest under a tag or its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
    ) -> Result<String, OciError> {
        let what = format!("pushing manifest {repo}:{reference}");
        let reply = self.send(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", MANIFEST_MEDIA_TYPE)],
            Some(bytes),
            MAX_MANIFEST,
            &what,
        )?;
        if reply.status != 201 {
            return Err(self.status(&what, &reply));
        }
        Ok(digest(bytes))
    }

    /// Follows `Link: <...>; rel="next"` pages of a list endpoint.
    fn paged(
        &self,
        first: String,
        field: &str,
        what: &str,
    ) -> Result<Option<Vec<String>>, OciError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            let reply = self.send("GET", &path, &[], None, MAX_MANIFEST, what)?;
            if reply.status == 404 {
                return Ok(None);
            }
            if reply.status != 200 {
                return Err(self.status(what, &reply));
            }
            let json: serde_json::Value =
                serde_json::from_slice(&reply.body).map_err(|e| OciError::Content {
                    registry: self.host.clone(),
                    what: what.to_string(),
                    detail: format!("not JSON: {e}"),
                })?;
            out.extend(
                json[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string)),
            );
            next = reply
                .link
                .as_deref()
                .filter(|l| l.contains("rel=\"next\""))
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(p, _)| p.to_string());
        }
        Ok(Some(out))
    }

    /// The tags of a repository (none when it does not exist).
    pub fn tags(&self, repo: &str) -> Result<Vec<String>, OciError> {
        let what = format!("listing tags of {repo}");
        Ok(self
            .paged(format!("/v2/{repo}/tags/list?n=1000"), "tags", &what)?
            .unwrap_or_default())
    }

    /// The repositories the registry lists.
    pub fn catalog(&self) -> Result<Vec<String>, OciError> {
        let what = "listing the catalog (/v2/_catalog)";
        self.paged("/v2/_catalog?n=1000".to_string(), "repositories", what)?
            .ok_or_else(|| OciError::Content {
                registry: self.host.clone(),
                what: what.to_string(),
                detail: "this registry does not offer a catalog; search needs one (or name the package and use `host install`)".to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn reads_docker_config_auths() {
        for s in ["", "f", "fo", "foo", "foob", "user:pa:ss"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert!(unbase64("a$b").is_none());
        let config = format!(
            r#"{{"auths": {{"https://ghcr.io": {{"auth": "{}"}}, "127.0.0.1:5000": {{"auth": "{}"}}}}}}"#,
            base64(b"me:token"),
            base64(b"e2e:pw")
        );
        let c = Credentials::from_docker_config(&config, "ghcr.io").unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("me", "token"));
        let c = Credentials::from_docker_config(&config, "127.0.0.1:5000").unwrap();
        assert_eq!(c.password, "pw");
        assert!(Credentials::from_docker_config(&config, "quay.io").is_none());
    }

    #[test]
    fn parses_bearer_challenges() {
        let p = bearer_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull,push".into()));
        assert!(bearer_challenge("Basic realm=\"x\"").is_none());
    }

    #[test]
    fn only_loopback_gets_plain_http() {
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:80")
        );
        assert!(!is_loopback("ghcr.io") && !is_loopback("10.0.0.1:5000"));
        assert!(
            Registry::new("ghcr.io", false, None)
                .base
                .starts_with("https://")
        );
        assert!(
            Registry::new("127.0.0.1:5000", false, None)
                .base
                .starts_with("http://")
        );
        assert!(
            Registry::new("reg.lan:5000", true, None)
                .base
                .starts_with("http://")
        );
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(
            crate::db::connect::percent_encode("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
