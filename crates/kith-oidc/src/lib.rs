//! OpenID Connect sign-in (authorization code flow with PKCE), as NHS login
//! and organisations' staff identity providers offer it.
//!
//! This crate knows the protocol only: discovery, the authorization request,
//! the code exchange and checking the ID token (signature, issuer, audience,
//! nonce, expiry). What a verified identity means for Kith's accounts is
//! decided in `kith_core::identity`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse, CoreRsaPrivateSigningKey, CoreTokenIntrospectionResponse,
    CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Who a provider signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// Patients (and family carers): NHS login and the like.
    Patient,
    /// Staff: the organisation's identity provider.
    Clinician,
}

/// One configured identity provider. (Debug leaves the secrets out.)
#[derive(Clone, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// A short name used in addresses: `/auth/oidc/start?provider={id}`.
    pub id: String,
    /// Shown on the button: "Sign in with {name}".
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// For `client_secret_basic`. Leave out when a private key is given.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PKCS#1 PEM of an RSA key, for `private_key_jwt` (as NHS login requires).
    #[serde(default)]
    pub private_key_pem: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_audience")]
    pub audience: Audience,
    /// The identity proofing level at which an `nhs_number` claim counts as
    /// verified (NHS login: P0 < P5 < P9).
    #[serde(default = "default_proofing_level")]
    pub proofing_level: String,
    /// For staff providers: the claim naming the person's organisation.
    #[serde(default = "default_organisation_claim")]
    pub organisation_claim: String,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig").field("id", &self.id).field("issuer", &self.issuer).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

pub fn default_scopes() -> Vec<String> {
    "openid profile email nhs_number".split(' ').map(str::to_string).collect()
}
fn default_audience() -> Audience {
    Audience::Patient
}
pub fn default_proofing_level() -> String {
    "P9".into()
}
pub fn default_organisation_claim() -> String {
    "organisation".into()
}

/// Claims beyond the standard ones: NHS login's, and whatever a staff
/// provider sends (the organisation claim is named in the configuration).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(default)]
    pub nhs_number: Option<String>,
    #[serde(default)]
    pub identity_proofing_level: Option<String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<ExtraClaims, EmptyExtraTokenFields, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in through a provider did not happen. The messages are shown
/// to the person; the details go to the server log.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense.
    #[error("{0} could not be reached just now. Try again in a few minutes, or sign in with your email address and password.")]
    Unavailable(String, #[source] Option<Box<dyn std::error::Error + Send + Sync>>),
    /// What came back failed a check: signature, issuer, audience, nonce, expiry.
    #[error("The sign-in from {0} could not be checked, so you have not been signed in. Start again.")]
    Refused(String, String),
    /// The person cancelled, or the provider said no.
    #[error("{0} did not sign you in ({1}). Start again if you meant to.")]
    Denied(String, String),
    #[error("The sign-in provider is not set up correctly: {0}")]
    Config(String),
}

impl OidcError {
    /// What to write in the server log (never tokens or claims).
    pub fn detail(&self) -> String {
        match self {
            OidcError::Unavailable(_, Some(e)) => format!("unavailable: {e}"),
            OidcError::Unavailable(_, None) => "unavailable".into(),
            OidcError::Refused(_, why) => format!("refused: {why}"),
            OidcError::Denied(_, why) => format!("denied: {why}"),
            OidcError::Config(why) => format!("configuration: {why}"),
        }
    }
}

/// What Kith keeps in the session between sending the person to the
/// provider and their coming back.
#[derive(Clone, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Pending {
    // Never the state, nonce or PKCE verifier.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("provider", &self.provider).finish_non_exhaustive()
    }
}

/// A person the provider vouched for, after every check passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub birth_date: Option<String>,
    pub nhs_number: Option<String>,
    pub proofing_level: Option<String>,
    pub organisation: Option<String>,
}

/// How long discovery results (endpoints and signing keys) are reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured provider with its discovery cache.
#[derive(Clone)]
pub struct Provider {
    pub config: ProviderConfig,
    http: reqwest::Client,
    discovered: Arc<Mutex<Option<(Instant, CoreProviderMetadata)>>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("id", &self.config.id).field("issuer", &self.config.issuer).finish()
    }
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Result<Self, OidcError> {
        IssuerUrl::new(config.issuer.clone()).map_err(|e| OidcError::Config(format!("issuer {}: {e}", config.issuer)))?;
        if !["P0", "P5", "P9"].contains(&config.proofing_level.trim().to_ascii_uppercase().as_str()) {
            return Err(OidcError::Config(format!("provider {}: proofing level {:?}: use P0, P5 or P9", config.id, config.proofing_level)));
        }
        if config.client_secret.is_none() && config.private_key_pem.is_none() {
            return Err(OidcError::Config(format!("provider {} needs a client secret or a private key", config.id)));
        }
        if let Some(pem) = &config.private_key_pem {
            CoreRsaPrivateSigningKey::from_pem(pem, None).map_err(|e| OidcError::Config(format!("provider {}: private key: {e}", config.id)))?;
        }
        let http = reqwest::ClientBuilder::new()
            // Following redirects would let a provider send Kith anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            // Below common servers' keep-alive (Node's is 5 s), so an idle
            // connection is dropped here before the server closes it under us.
            .pool_idle_timeout(std::time::Duration::from_secs(4))
            .build()
            .map_err(|e| OidcError::Config(format!("HTTP client: {e}")))?;
        Ok(Self { config, http, discovered: Arc::new(Mutex::new(None)) })
    }

    fn unavailable(&self, e: impl std::error::Error + Send + Sync + 'static) -> OidcError {
        OidcError::Unavailable(self.config.name.clone(), Some(Box::new(e)))
    }

    fn refused(&self, why: impl std::fmt::Display) -> OidcError {
        OidcError::Refused(self.config.name.clone(), why.to_string())
    }

    /// The provider's endpoints and keys, from its
    /// `.well-known/openid-configuration`, reused for a few minutes.
    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let mut cache = self.discovered.lock().await;
        if let Some((at, meta)) = cache.as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(meta.clone());
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
        let meta = CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| self.unavailable(e))?;
        *cache = Some((Instant::now(), meta.clone()));
        Ok(meta)
    }

    async fn client(&self, redirect_uri: &str) -> Result<OidcClient, OidcError> {
        let meta = self.metadata().await?;
        let secret = if self.config.private_key_pem.is_some() { None } else { self.config.client_secret.clone().map(ClientSecret::new) };
        let client = OidcClient::from_provider_metadata(meta, ClientId::new(self.config.client_id.clone()), secret)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(|e| OidcError::Config(format!("redirect URI: {e}")))?);
        Ok(if self.config.private_key_pem.is_some() { client.set_auth_type(AuthType::RequestBody) } else { client })
    }

    /// Where to send the person, and what to remember until they come back.
    pub async fn start(&self, redirect_uri: &str) -> Result<(String, Pending), OidcError> {
        let client = self.client(redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in self.config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            Pending {
                provider: self.config.id.clone(),
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Exchanges the code for tokens and checks the ID token. The caller has
    /// already matched `state` against the session.
    pub async fn finish(&self, pending: &Pending, code: &str, redirect_uri: &str) -> Result<Identity, OidcError> {
        let client = self.client(redirect_uri).await?;
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let assertion;
        if let Some(pem) = &self.config.private_key_pem {
            let token_url = client.token_uri().map(|u| u.to_string()).ok_or_else(|| self.refused("no token endpoint"))?;
            assertion = client_assertion(pem, &self.config.client_id, &token_url)?;
            exchange = exchange
                .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .add_extra_param("client_assertion", assertion.clone());
        }
        let tokens = exchange.request_async(&self.http).await.map_err(|e| match e {
            openidconnect::RequestTokenError::Request(e) => self.unavailable(e),
            openidconnect::RequestTokenError::ServerResponse(r) => self.refused(format!("token endpoint: {}", r.error())),
            other => self.refused(format!("token endpoint: {other}")),
        })?;
        let id_token = tokens.id_token().ok_or_else(|| self.refused("no ID token in the token response"))?;
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &Nonce::new(pending.nonce.clone())).map_err(|e| self.refused(e))?;

        let mut identity = Identity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            birth_date: claims.birthdate().map(|b| b.to_string()),
            nhs_number: claims.additional_claims().nhs_number.clone(),
            proofing_level: claims.additional_claims().identity_proofing_level.clone(),
            organisation: claim_text(&claims.additional_claims().other, &self.config.organisation_claim),
        };
        if identity.name.is_none() {
            identity.name = join_names(
                claims.given_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                claims.family_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
            );
        }

        // Many providers (NHS login among them) put most claims in UserInfo
        // rather than the ID token. Its subject must match the ID token's.
        if client.user_info_url().is_some() {
            let request = client.user_info(tokens.access_token().clone(), Some(claims.subject().clone())).map_err(|e| OidcError::Config(e.to_string()))?;
            let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = request.request_async(&self.http).await.map_err(|e| match e {
                openidconnect::UserInfoError::Request(e) => self.unavailable(e),
                other => self.refused(format!("userinfo: {other}")),
            })?;
            identity.name = identity.name.or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.to_string())).or_else(|| {
                join_names(
                    info.given_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                    info.family_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                )
            });
            if identity.email.is_none() {
                identity.email = info.email().map(|e| e.to_string());
                identity.email_verified = info.email_verified().unwrap_or(false);
            }
            identity.birth_date = identity.birth_date.or_else(|| info.birthdate().map(|b| b.to_string()));
            identity.nhs_number = identity.nhs_number.or_else(|| info.additional_claims().nhs_number.clone());
            identity.proofing_level = identity.proofing_level.or_else(|| info.additional_claims().identity_proofing_level.clone());
            identity.organisation = identity.organisation.or_else(|| claim_text(&info.additional_claims().other, &self.config.organisation_claim));
        }
        Ok(identity)
    }

    /// Whether the identity's NHS Number was proved to at least the level
    /// this deployment requires.
    pub fn nhs_number_verified(&self, identity: &Identity) -> bool {
        identity.nhs_number.is_some() && identity.proofing_level.as_deref().map(proofing_rank).unwrap_or(0) >= proofing_rank(&self.config.proofing_level)
    }
}

/// NHS login's identity proofing levels, in order. Unknown levels count as none.
fn proofing_rank(level: &str) -> u8 {
    match level.trim().to_ascii_uppercase().as_str() {
        "P9" => 9,
        "P5" => 5,
        _ => 0,
    }
}

fn claim_text(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn join_names(given: Option<String>, family: Option<String>) -> Option<String> {
    let joined = [given, family].into_iter().flatten().collect::<Vec<_>>().join(" ");
    (!joined.trim().is_empty()).then_some(joined)
}

/// A `private_key_jwt` client assertion (RFC 7523): signed with the client's
/// key, naming the token endpoint, valid for one minute.
fn client_assertion(pem: &str, client_id: &str, token_url: &str) -> Result<String, OidcError> {
    use base64_url as b64;
    let key = CoreRsaPrivateSigningKey::from_pem(pem, None).map_err(OidcError::Config)?;
    let now = chrono::Utc::now().timestamp();
    let header = serde_json::json!({ "alg": "RS512", "typ": "JWT" });
    let claims = serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": token_url,
        "jti": CsrfToken::new_random().secret(), "iat": now, "exp": now + 60,
    });
    let signing_input = format!("{}.{}", b64::encode(header.to_string().as_bytes()), b64::encode(claims.to_string().as_bytes()));
    let signature = key
        .sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512, signing_input.as_bytes())
        .map_err(|e| OidcError::Config(format!("signing the client assertion: {e}")))?;
    Ok(format!("{signing_input}.{}", b64::encode(&signature)))
}

mod base64_url {
    use base64::Engine;
    pub fn encode(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofing_levels_are_ordered() {
        let p = Provider::new(ProviderConfig {
            id: "nhs".into(),
            name: "NHS login".into(),
            issuer: "http://127.0.0.1:1".into(),
            client_id: "kith".into(),
            client_secret: Some("s".into()),
            private_key_pem: None,
            scopes: default_scopes(),
            audience: Audience::Patient,
            proofing_level: "P9".into(),
            organisation_claim: default_organisation_claim(),
        })
        .unwrap();
        let id = |n: Option<&str>, l: Option<&str>| Identity {
            issuer: String::new(),
            subject: "s".into(),
            name: None,
            email: None,
            email_verified: false,
            birth_date: None,
            nhs_number: n.map(str::to_string),
            proofing_level: l.map(str::to_string),
            organisation: None,
        };
        assert!(p.nhs_number_verified(&id(Some("9434765919"), Some("P9"))));
        assert!(!p.nhs_number_verified(&id(Some("9434765919"), Some("P5"))));
        assert!(!p.nhs_number_verified(&id(Some("9434765919"), None)));
        assert!(!p.nhs_number_verified(&id(None, Some("P9"))));
    }

    #[test]
    fn a_provider_needs_a_way_to_authenticate() {
        let e = Provider::new(ProviderConfig {
            id: "x".into(),
            name: "X".into(),
            issuer: "http://127.0.0.1:1".into(),
            client_id: "kith".into(),
            client_secret: None,
            private_key_pem: None,
            scopes: default_scopes(),
            audience: Audience::Patient,
            proofing_level: default_proofing_level(),
            organisation_claim: default_organisation_claim(),
        })
        .unwrap_err();
        assert!(e.to_string().contains("client secret or a private key"), "{e}");
    }
}
