//! SMART on FHIR (standalone patient launch) and pulling a patient's record
//! from a provider's FHIR API. Protocol only: what is done with the pulled
//! resources (the import's identity check, merge and versions) is
//! `kith_core`'s, and where tokens are kept (encrypted) is too.

use std::time::Duration;

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One provider connection a deployment offers. (Debug leaves the secret out.)
#[derive(Clone, Serialize, Deserialize)]
pub struct SmartConfig {
    /// The organisation's name (the record's source).
    pub name: String,
    /// gp, hospital, mental-health, community, social-care, device or patient.
    pub kind: String,
    pub fhir_base: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Used when the server offers no `.well-known/smart-configuration`.
    #[serde(default)]
    pub authorize_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for SmartConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartConfig").field("name", &self.name).field("fhir_base", &self.fhir_base).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

pub fn default_scopes() -> Vec<String> {
    "launch/patient openid fhirUser patient/*.rs offline_access".split(' ').map(str::to_string).collect()
}

/// SMART's token response names the patient in context.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SmartFields {
    #[serde(default)]
    pub patient: Option<String>,
}
impl ExtraTokenFields for SmartFields {}

type SmartTokens = StandardTokenResponse<SmartFields, BasicTokenType>;
type OAuth = Client<
    BasicErrorResponse,
    SmartTokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum SmartError {
    #[error("{0} could not be reached just now. Kith will try again later; nothing already in your record is lost.")]
    Unavailable(String, String),
    /// The tokens no longer work: expired past refreshing, or revoked.
    #[error("{0} no longer accepts Kith's access. Connect it again to carry on updating your record.")]
    Unauthorized(String, String),
    #[error("{0} asked Kith to slow down. Kith will try again later.")]
    RateLimited(String),
    #[error("{0} sent something Kith could not use: {1}")]
    Refused(String, String),
    #[error("The connection to {0} is not set up correctly: {1}")]
    Config(String, String),
}

impl SmartError {
    /// For the server log (never tokens or health data).
    pub fn detail(&self) -> String {
        match self {
            SmartError::Unavailable(_, d) | SmartError::Unauthorized(_, d) | SmartError::Refused(_, d) | SmartError::Config(_, d) => d.clone(),
            SmartError::RateLimited(_) => "rate limited".into(),
        }
    }
}

/// What is kept between sending the patient to the provider and their return.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingConnect {
    pub state: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for PendingConnect {
    // Never the state or PKCE verifier.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingConnect { .. }")
    }
}

/// Tokens from the provider. Secrets: kept encrypted, never logged.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    pub expires_at_ms: Option<i64>,
    /// The provider's id for the patient (from the token response).
    pub patient: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("patient", &self.patient).field("expires_at_ms", &self.expires_at_ms).finish_non_exhaustive()
    }
}

/// Everything pulled for a patient, as one FHIR collection Bundle (the
/// provider's Patient first), ready for the import.
pub struct Pulled {
    pub bundle: Vec<u8>,
    pub resources: usize,
}

/// Resource types asked for one by one when `Patient/$everything` is not offered.
pub const SEARCHED_TYPES: &[&str] = &[
    "AllergyIntolerance",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Immunization",
    "Observation",
    "DiagnosticReport",
    "Procedure",
    "Encounter",
    "DocumentReference",
    "CarePlan",
    "Goal",
];

const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pages followed at most, so a server that links in circles cannot keep Kith busy.
const MAX_PAGES: usize = 500;
/// Waits after a 429 before giving up.
const RATE_LIMIT_TRIES: u32 = 3;
/// The most one pull reads from a FHIR server, every response together. The
/// import refuses a larger record anyway; counting as the bytes arrive stops
/// a server that sends too much (or never stops) before it fills memory.
pub const MAX_PULL_BYTES: usize = 512 * 1024 * 1024;

#[derive(Clone)]
pub struct SmartClient {
    pub config: SmartConfig,
    http: reqwest::Client,
    max_pull_bytes: usize,
}

#[derive(Deserialize)]
struct SmartConfiguration {
    authorization_endpoint: String,
    token_endpoint: String,
}

impl SmartClient {
    pub fn new(config: SmartConfig) -> Result<Self, SmartError> {
        url::Url::parse(&config.fhir_base).map_err(|e| SmartError::Config(config.name.clone(), format!("FHIR base URL: {e}")))?;
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            // Below common servers' keep-alive (Node's is 5 s), so an idle
            // connection is dropped here before the server closes it under us.
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .map_err(|e| SmartError::Config(config.name.clone(), e.to_string()))?;
        Ok(Self { config, http, max_pull_bytes: MAX_PULL_BYTES })
    }

    /// A smaller limit than `MAX_PULL_BYTES` for a whole pull (tests).
    pub fn with_max_pull_bytes(mut self, max: usize) -> Self {
        self.max_pull_bytes = max;
        self
    }

    fn too_large(&self) -> SmartError {
        SmartError::Refused(self.config.name.clone(), format!("the record is larger than {} MB", self.max_pull_bytes.div_ceil(1024 * 1024)))
    }

    fn base(&self) -> String {
        self.config.fhir_base.trim_end_matches('/').to_string()
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> SmartError {
        SmartError::Unavailable(self.config.name.clone(), e.to_string())
    }

    /// The authorization and token endpoints: configured, or from SMART discovery.
    async fn endpoints(&self) -> Result<(String, String), SmartError> {
        if let (Some(a), Some(t)) = (&self.config.authorize_url, &self.config.token_url) {
            return Ok((a.clone(), t.clone()));
        }
        let url = format!("{}/.well-known/smart-configuration", self.base());
        let res = self.http.get(&url).header("accept", "application/json").send().await.map_err(|e| self.unavailable(e))?;
        if !res.status().is_success() {
            return Err(SmartError::Config(
                self.config.name.clone(),
                format!("no SMART configuration at {url} ({}); set the authorize and token URLs", res.status()),
            ));
        }
        let c: SmartConfiguration = res.json().await.map_err(|e| SmartError::Refused(self.config.name.clone(), format!("SMART configuration: {e}")))?;
        Ok((self.config.authorize_url.clone().unwrap_or(c.authorization_endpoint), self.config.token_url.clone().unwrap_or(c.token_endpoint)))
    }

    async fn oauth(&self, redirect_uri: &str) -> Result<OAuth, SmartError> {
        let (auth, token) = self.endpoints().await?;
        let cfg = |e: String| SmartError::Config(self.config.name.clone(), e);
        let mut c = Client::new(ClientId::new(self.config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(auth).map_err(|e| cfg(format!("authorize URL: {e}")))?)
            .set_token_uri(TokenUrl::new(token).map_err(|e| cfg(format!("token URL: {e}")))?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(|e| cfg(format!("redirect URI: {e}")))?);
        if let Some(s) = &self.config.client_secret {
            c = c.set_client_secret(ClientSecret::new(s.clone()));
        }
        Ok(c)
    }

    /// Where to send the patient (standalone launch), and what to remember.
    pub async fn start(&self, redirect_uri: &str) -> Result<(String, PendingConnect), SmartError> {
        let client = self.oauth(redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.config.scopes.iter().cloned().map(Scope::new))
            // SMART: the FHIR server the token is for.
            .add_extra_param("aud", self.base())
            .set_pkce_challenge(challenge)
            .url();
        Ok((url.to_string(), PendingConnect { state: state.secret().clone(), pkce_verifier: verifier.secret().clone() }))
    }

    fn tokens(&self, t: SmartTokens, previous: Option<&Tokens>) -> Result<Tokens, SmartError> {
        let patient = t
            .extra_fields()
            .patient
            .clone()
            .or_else(|| previous.map(|p| p.patient.clone()))
            .ok_or_else(|| SmartError::Refused(self.config.name.clone(), "the token response names no patient".into()))?;
        Ok(Tokens {
            access: t.access_token().secret().clone(),
            refresh: t.refresh_token().map(|r| r.secret().clone()).or_else(|| previous.and_then(|p| p.refresh.clone())),
            expires_at_ms: t.expires_in().map(|d| chrono::Utc::now().timestamp_millis() + d.as_millis() as i64),
            patient,
        })
    }

    fn token_error<E: std::error::Error + 'static>(&self, e: RequestTokenError<E, BasicErrorResponse>) -> SmartError {
        match e {
            RequestTokenError::Request(e) => self.unavailable(e),
            // Only a refused grant means the patient must connect again; a
            // busy or failing server is tried again later.
            RequestTokenError::ServerResponse(r) if *r.error() == oauth2::basic::BasicErrorResponseType::InvalidGrant => {
                SmartError::Unauthorized(self.config.name.clone(), format!("token endpoint: {}", r.error()))
            }
            RequestTokenError::ServerResponse(r) => SmartError::Unavailable(self.config.name.clone(), format!("token endpoint: {}", r.error())),
            other => SmartError::Refused(self.config.name.clone(), format!("token endpoint: {other}")),
        }
    }

    /// Exchanges the code (state already checked by the caller).
    pub async fn finish(&self, pending: &PendingConnect, code: &str, redirect_uri: &str) -> Result<Tokens, SmartError> {
        let client = self.oauth(redirect_uri).await?;
        let t = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| self.token_error(e))?;
        self.tokens(t, None)
    }

    /// New tokens from the refresh token.
    pub async fn refresh(&self, tokens: &Tokens, redirect_uri: &str) -> Result<Tokens, SmartError> {
        let Some(refresh) = &tokens.refresh else {
            return Err(SmartError::Unauthorized(self.config.name.clone(), "access expired and no refresh token".into()));
        };
        let client = self.oauth(redirect_uri).await?;
        let t = client.exchange_refresh_token(&RefreshToken::new(refresh.clone())).request_async(&self.http).await.map_err(|e| self.token_error(e))?;
        self.tokens(t, Some(tokens))
    }

    /// GET a FHIR URL with the token: 401/403 mean the access is gone, 429
    /// is waited out (Retry-After, at most a few times). The body counts
    /// against `budget`, what is left of the pull's limit, as it arrives.
    async fn get_json(&self, url: &str, access: &str, budget: &mut usize) -> Result<(reqwest::StatusCode, Value), SmartError> {
        let mut tries = 0;
        let mut resent = false;
        loop {
            let sent = self.http.get(url).bearer_auth(access).header("accept", "application/fhir+json").send().await;
            let mut res = match sent {
                Ok(r) => r,
                // A GET is safe to send again once: a kept-alive connection
                // the server had just closed fails like this.
                Err(e) if !resent && !e.is_timeout() => {
                    resent = true;
                    tracing::debug!(error = %e, "FHIR request failed to send; trying once more");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(e) => return Err(self.unavailable(e)),
            };
            let status = res.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                tries += 1;
                if tries >= RATE_LIMIT_TRIES {
                    return Err(SmartError::RateLimited(self.config.name.clone()));
                }
                let wait = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(1u64 << tries).min(30);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            // 403 is left to the caller: a search the scopes do not cover is skipped.
            if status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(SmartError::Unauthorized(self.config.name.clone(), format!("{status} from the FHIR server")));
            }
            if status.is_server_error() {
                return Err(self.unavailable(format!("{status} from {url}")));
            }
            if res.content_length().is_some_and(|n| n > *budget as u64) {
                return Err(self.too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await.map_err(|e| self.unavailable(e))? {
                if body.len() + chunk.len() > *budget {
                    return Err(self.too_large());
                }
                body.extend_from_slice(&chunk);
            }
            *budget -= body.len();
            let json: Value = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&body).map_err(|e| SmartError::Refused(self.config.name.clone(), format!("not JSON from the FHIR server: {e}")))?
            };
            return Ok((status, json));
        }
    }

    /// Follows a searchset's `next` links, collecting resources. Links must
    /// stay on the FHIR server: the token is never sent anywhere else.
    async fn collect(&self, first: &str, access: &str, budget: &mut usize, out: &mut Vec<Value>) -> Result<bool, SmartError> {
        let base = url::Url::parse(&self.base()).map_err(|e| SmartError::Config(self.config.name.clone(), e.to_string()))?;
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(SmartError::Refused(self.config.name.clone(), format!("more than {MAX_PAGES} pages")));
            }
            let (status, bundle) = self.get_json(&url, access, budget).await?;
            if !status.is_success() {
                // The first page answering 400/403/404: the server does not
                // offer this search. A later page failing: the whole pull fails.
                if pages == 1 {
                    return Ok(false);
                }
                return Err(self.unavailable(format!("{status} from page {pages} of a search")));
            }
            if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(SmartError::Refused(self.config.name.clone(), "a search did not return a Bundle".into()));
            }
            for e in bundle.get("entry").and_then(Value::as_array).into_iter().flatten() {
                let outcome = e.pointer("/search/mode").and_then(Value::as_str) == Some("outcome")
                    || e.pointer("/resource/resourceType").and_then(Value::as_str) == Some("OperationOutcome");
                if let (Some(r), false) = (e.get("resource"), outcome) {
                    out.push(r.clone());
                }
            }
            next = bundle
                .get("link")
                .and_then(Value::as_array)
                .and_then(|links| links.iter().find(|l| l.get("relation").and_then(Value::as_str) == Some("next")))
                .and_then(|l| l.get("url").and_then(Value::as_str))
                .map(|u| base.join(u).map(|u| u.to_string()).unwrap_or_default());
            if let Some(n) = &next {
                let root = base.path().trim_end_matches('/');
                let same_server =
                    url::Url::parse(n).ok().is_some_and(|u| u.origin() == base.origin() && (u.path() == root || u.path().starts_with(&format!("{root}/"))));
                if !same_server {
                    return Err(SmartError::Refused(self.config.name.clone(), "a next link points away from the FHIR server".into()));
                }
            }
        }
        Ok(true)
    }

    /// Pulls the patient's record: their Patient, then `Patient/$everything`
    /// where offered, otherwise a search per resource type. Fails whole: a
    /// page that fails half way means nothing is imported.
    pub async fn pull(&self, tokens: &Tokens) -> Result<Pulled, SmartError> {
        let base = self.base();
        let patient_id = &tokens.patient;
        if patient_id.is_empty() || !patient_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(SmartError::Refused(self.config.name.clone(), "the patient id is not a FHIR id".into()));
        }
        let mut budget = self.max_pull_bytes;
        let (status, patient) = self.get_json(&format!("{base}/Patient/{patient_id}"), &tokens.access, &mut budget).await?;
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(SmartError::Unauthorized(self.config.name.clone(), "403 reading the patient".into()));
        }
        if !status.is_success() || patient.get("resourceType").and_then(Value::as_str) != Some("Patient") {
            return Err(SmartError::Refused(self.config.name.clone(), format!("reading the patient gave {status}")));
        }
        let mut resources = vec![patient];
        let mut everything = Vec::new();
        if self.collect(&format!("{base}/Patient/{patient_id}/$everything"), &tokens.access, &mut budget, &mut everything).await? {
            resources.extend(everything);
        } else {
            for t in SEARCHED_TYPES {
                let mut found = Vec::new();
                // A type the server does not support (400/404) is skipped.
                if self.collect(&format!("{base}/{t}?patient=Patient/{patient_id}&_count=100"), &tokens.access, &mut budget, &mut found).await? {
                    resources.extend(found);
                }
            }
        }
        // $everything repeats the Patient; keep one copy of each resource.
        let mut seen = std::collections::HashSet::new();
        resources.retain(|r| {
            let key = (r.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string(), r.get("id").and_then(Value::as_str).unwrap_or("").to_string());
            key.1.is_empty() || seen.insert(key)
        });
        let count = resources.len();
        let bundle = serde_json::json!({
            "resourceType": "Bundle",
            "type": "collection",
            "meta": { "source": base },
            "entry": resources.into_iter().map(|r| {
                let url = format!("{base}/{}/{}", r.get("resourceType").and_then(Value::as_str).unwrap_or(""), r.get("id").and_then(Value::as_str).unwrap_or(""));
                serde_json::json!({ "fullUrl": url, "resource": r })
            }).collect::<Vec<_>>(),
        });
        Ok(Pulled { bundle: serde_json::to_vec(&bundle).map_err(|e| SmartError::Refused(self.config.name.clone(), e.to_string()))?, resources: count })
    }
}
