//! Every option Kith reads, declared once with its default and environment
//! variable. The README's configuration table mirrors this file.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Parser, Debug)]
#[command(
    name = "kith",
    version,
    about = "Kith: a patient-controlled personal health record",
    long_about = "Kith: a patient-controlled personal health record.\n\n\
        With no command, `kith` runs `kith serve`. Every option can also be set by the\n\
        environment variable shown beside it."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Clone)]
pub struct GlobalOptions {
    /// Database: `sqlite://PATH` (created on first run) or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(long = "database", env = "KITH_DATABASE_URL", default_value = "sqlite://data/kith.db", global = true, hide_env_values = true)]
    pub database_url: String,

    /// PostgreSQL only: a role that owns Kith's tables, used only to migrate
    /// them (`postgres://OWNER:PASSWORD@HOST:PORT/DB`). Kith then runs as the
    /// role in KITH_DATABASE_URL, which should be granted kith_app: it cannot
    /// change or delete access-log rows. Unset: that role migrates too.
    #[arg(long = "database-owner", env = "KITH_DATABASE_OWNER_URL", global = true, hide_env_values = true)]
    pub database_owner_url: Option<String>,

    /// The server's ed25519 key that signs access-log checkpoints (created on first run, mode 0600).
    #[arg(long, env = "KITH_AUDIT_KEY_FILE", default_value = "data/audit-signing.key", global = true)]
    pub audit_key_file: std::path::PathBuf,

    /// The key that encrypts provider tokens at rest (created on first run, mode 0600).
    #[arg(long, env = "KITH_TOKEN_KEY_FILE", default_value = "data/token-encryption.key", global = true)]
    pub token_key_file: std::path::PathBuf,

    /// What to log, as a tracing filter (health data and passwords are never logged).
    #[arg(long = "log", env = "KITH_LOG", default_value = "info,sqlx=warn,tower_sessions=warn", global = true)]
    pub log: String,
}

impl std::fmt::Debug for GlobalOptions {
    // Database URLs with their passwords redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalOptions")
            .field("database_url", &kith_core::db::redact_url(&self.database_url))
            .field("database_owner_url", &self.database_owner_url.as_deref().map(kith_core::db::redact_url))
            .field("audit_key_file", &self.audit_key_file)
            .field("token_key_file", &self.token_key_file)
            .field("log", &self.log)
            .finish()
    }
}

#[derive(Subcommand, Debug)]
// Parsed once at start-up: the size of the Serve variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the web server.
    Serve(ServeOptions),
    /// Load demo people (a patient, a family carer and a clinician) and print how to sign in as each.
    Demo,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Import FHIR R4 files (Bundle, NDJSON or a single resource) into a patient's record.
    /// Each file is accepted or refused whole.
    Import(ImportOptions),
    /// Print a patient's merged record.
    Record(RecordOptions),
    /// Write a patient's whole record to standard output as a FHIR R4 Bundle
    /// (the original resources plus a Provenance per source).
    Export(ExportOptions),
    /// Check, sign and export the access log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every record's access-log hash chain (or one record's), naming the
    /// first broken record. Exits non-zero if any chain is broken.
    Verify {
        #[arg(long)]
        nhs_number: Option<String>,
    },
    /// Check a downloaded access-log chain file on its own, without a
    /// database: every hash and signature. Exits non-zero if it is broken.
    VerifyFile {
        /// The chain file (Access log page, "The whole chain, for checking").
        file: std::path::PathBuf,
        /// A chain or checkpoints file kept from before: its signed
        /// checkpoints must still hold (repeat for several).
        #[arg(long)]
        earlier: Vec<std::path::PathBuf>,
        /// The server's public key (hex) to trust, instead of the one the file names.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign every chain head that moved since its last checkpoint.
    Checkpoint,
    /// Print recent failed sign-ins through identity providers (refused
    /// tokens, wrong state, provider down), newest first, as JSON lines.
    SignInFailures {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Write a record's access log to standard output.
    Export {
        #[arg(long)]
        nhs_number: String,
        /// fhir (a Bundle of AuditEvent resources), csv, or chain (every
        /// record as hashed, with the signed checkpoints, for `verify-file`).
        #[arg(long, default_value = "fhir", value_parser = ["fhir", "csv", "chain"])]
        format: String,
    },
}

#[derive(Args, Debug)]
pub struct ImportOptions {
    /// The record's NHS Number; every file must be for this patient.
    #[arg(long)]
    pub nhs_number: String,
    /// What kind of organisation sent the files: gp, hospital, mental-health,
    /// community, social-care, device or patient. Needed for a source Kith has
    /// not seen before.
    #[arg(long)]
    pub source_kind: Option<String>,
    /// The organisation's name, when the files do not carry one.
    #[arg(long)]
    pub source_name: Option<String>,
    /// Print a JSON summary per file instead of text.
    #[arg(long)]
    pub json: bool,
    /// Largest file accepted, in megabytes.
    #[arg(long, env = "KITH_MAX_UPLOAD_MB", default_value_t = 50)]
    pub max_upload_mb: usize,
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct RecordOptions {
    #[arg(long)]
    pub nhs_number: String,
    /// Print JSON (the only format for now).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExportOptions {
    #[arg(long)]
    pub nhs_number: String,
    /// Write the care plan (a CarePlan and its Goals) instead of the whole record.
    #[arg(long)]
    pub care_plan: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input (one line).
    Add(UserAddOptions),
    /// Record that you checked a clinician's staff identity, so they may use
    /// emergency access (clinicians who sign in through the staff provider
    /// are checked by it).
    VerifyClinician {
        #[arg(long)]
        email: String,
    },
    /// Set a new password for an account (for someone who cannot use
    /// "Forgot your password?"): read from standard input (one line). Ends
    /// every session of the account; logged in their record.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Record that you checked with its owner that an account's email
    /// address is theirs, so Kith may email it (people usually confirm their
    /// own, from a link Kith sends). Logged in their record.
    ConfirmEmail {
        #[arg(long)]
        email: String,
    },
    /// Email a link to confirm their address to everyone whose address is
    /// not confirmed and who has no link still working: once after
    /// upgrading to a Kith that confirms addresses, and after `user add`.
    /// Uses the same mail settings as `serve`.
    SendConfirmations {
        /// The address people use to reach Kith (for the links).
        #[arg(long, env = "KITH_PUBLIC_URL", default_value = "http://127.0.0.1:3000", value_parser = parse_public_url)]
        public_url: String,
        #[command(flatten)]
        mail: MailOptions,
    },
}

#[derive(Args, Debug)]
pub struct UserAddOptions {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// patient, carer or clinician.
    #[arg(long)]
    pub role: String,
    /// For a patient: their NHS Number (10 digits, spaces allowed). Creates their record.
    #[arg(long)]
    pub nhs_number: Option<String>,
    /// For a patient: date of birth as YYYY-MM-DD.
    #[arg(long)]
    pub birth_date: Option<String>,
    /// For a clinician: where they work (shown in patients' access logs).
    #[arg(long)]
    pub organisation: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    #[arg(long, env = "KITH_ADDR", default_value = "127.0.0.1:3000", value_parser = parse_addr)]
    pub addr: SocketAddr,

    /// The address people use to reach Kith. When it starts with https://, cookies are marked Secure.
    #[arg(long, env = "KITH_PUBLIC_URL", default_value = "http://127.0.0.1:3000", value_parser = parse_public_url)]
    pub public_url: String,

    /// Minutes without activity after which a session ends.
    #[arg(long, env = "KITH_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=1440))]
    pub session_idle_minutes: i64,

    /// Folder holding the built browser assets (`pkg/`, favicon). cargo-leptos writes it.
    #[arg(long, env = "KITH_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Largest upload accepted, in megabytes.
    #[arg(long, env = "KITH_MAX_UPLOAD_MB", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=2048))]
    pub max_upload_mb: u64,

    /// Let signed-in clinicians open a record they were not given, stating a
    /// reason (emergency access; the patient is told at once). Off unless set.
    #[arg(long, env = "KITH_BREAK_GLASS", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub break_glass: bool,

    /// Roles that must use two-step verification before opening records, e.g. `clinician,carer`.
    #[arg(long, env = "KITH_REQUIRE_TWO_STEP", default_value = "", value_parser = parse_roles)]
    pub require_two_step: String,

    /// Minutes between signed checkpoints of the access-log chains.
    #[arg(long, env = "KITH_AUDIT_CHECKPOINT_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=10080))]
    pub audit_checkpoint_minutes: u64,

    #[command(flatten)]
    pub oidc: OidcOptions,

    #[command(flatten)]
    pub smart: SmartOptions,

    #[command(flatten)]
    pub mail: MailOptions,
}

/// Email to patients (their record's first view by someone new, emergency
/// access, a locked link). Without a mail server they are told in the app only.
#[derive(Args, Clone, Default)]
pub struct MailOptions {
    /// The mail server: `smtps://USER:PASSWORD@HOST` (TLS), `smtp://USER:PASSWORD@HOST:587?tls=required` (STARTTLS), or `smtp://HOST:PORT` (unencrypted: a relay on this machine only).
    #[arg(long, env = "KITH_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of Kith's emails, e.g. `Kith <kith@example.org>`.
    #[arg(long, env = "KITH_MAIL_FROM")]
    pub mail_from: Option<String>,
}

impl std::fmt::Debug for MailOptions {
    // Never the server URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailOptions").field("smtp_url", &self.smtp_url.as_ref().map(|_| "…")).field("mail_from", &self.mail_from).finish()
    }
}

impl MailOptions {
    /// The mail settings, checked; None when no mail server is given.
    pub fn settings(&self, public_url: &str) -> anyhow::Result<Option<kith_core::mail::MailSettings>> {
        match (&self.smtp_url, &self.mail_from) {
            (None, None) => Ok(None),
            (Some(url), Some(from)) => {
                kith_core::mail::MailSettings::new(url, from, public_url).map(Some).map_err(|e| anyhow::anyhow!("KITH_SMTP_URL / KITH_MAIL_FROM: {e}"))
            }
            (Some(_), None) => anyhow::bail!("KITH_SMTP_URL is set: also set KITH_MAIL_FROM, the address Kith's emails come from"),
            (None, Some(_)) => anyhow::bail!("KITH_MAIL_FROM is set: also set KITH_SMTP_URL, the mail server that sends them"),
        }
    }
}

/// A provider's FHIR API patients can connect (SMART on FHIR standalone
/// launch). Its redirect URI is `{KITH_PUBLIC_URL}/sources/connect/callback`.
#[derive(Args, Clone, Default)]
pub struct SmartOptions {
    /// The organisation's name, shown on the Sources page and as the source of what is pulled.
    #[arg(long, env = "KITH_SMART_NAME")]
    pub smart_name: Option<String>,
    /// gp, hospital, mental-health, community, social-care, device or patient.
    #[arg(long, env = "KITH_SMART_KIND", default_value = "hospital")]
    pub smart_kind: String,
    /// The FHIR server's base URL. Unset: no connection is offered.
    #[arg(long, env = "KITH_SMART_FHIR_BASE")]
    pub smart_fhir_base: Option<String>,
    #[arg(long, env = "KITH_SMART_CLIENT_ID", default_value = "kith")]
    pub smart_client_id: String,
    #[arg(long, env = "KITH_SMART_CLIENT_SECRET", hide_env_values = true)]
    pub smart_client_secret: Option<String>,
    /// Where the server offers no `.well-known/smart-configuration`.
    #[arg(long, env = "KITH_SMART_AUTHORIZE_URL")]
    pub smart_authorize_url: Option<String>,
    #[arg(long, env = "KITH_SMART_TOKEN_URL")]
    pub smart_token_url: Option<String>,
    #[arg(long, env = "KITH_SMART_SCOPES", default_value = "launch/patient openid fhirUser patient/*.rs offline_access")]
    pub smart_scopes: String,
    /// Hours between scheduled pulls of each connection.
    #[arg(long, env = "KITH_SMART_REFRESH_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub smart_refresh_hours: u64,
    /// A JSON file listing further providers: `[{"id", "name", "kind",
    /// "fhir_base", "client_id", "client_secret", "authorize_url",
    /// "token_url", "scopes"}]`.
    #[arg(long, env = "KITH_SMART_PROVIDERS_FILE")]
    pub smart_providers_file: Option<std::path::PathBuf>,
}

#[derive(serde::Deserialize)]
struct SmartFileEntry {
    id: String,
    #[serde(flatten)]
    config: kith_smart::SmartConfig,
}

impl std::fmt::Debug for SmartOptions {
    // Never the client secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartOptions").field("smart_fhir_base", &self.smart_fhir_base).finish_non_exhaustive()
    }
}

impl SmartOptions {
    /// Every configured provider as (key, settings); the one set by
    /// environment is "smart".
    pub fn connections(&self) -> anyhow::Result<Vec<(String, kith_smart::SmartConfig)>> {
        let mut out = Vec::new();
        if let Some(c) = self.set_by_environment()? {
            out.push(("smart".to_string(), c));
        }
        if let Some(f) = &self.smart_providers_file {
            let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("KITH_SMART_PROVIDERS_FILE {}: {e}", f.display()))?;
            let more: Vec<SmartFileEntry> = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("KITH_SMART_PROVIDERS_FILE {}: {e}", f.display()))?;
            out.extend(more.into_iter().map(|e| (e.id, e.config)));
        }
        let mut ids = std::collections::HashSet::new();
        for (id, c) in &out {
            if !ids.insert(id.clone()) || id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                anyhow::bail!("provider connection id {id:?}: give each its own, of letters, digits, - and _");
            }
            if c.kind.parse::<kith_fhir::SourceKind>().is_err() {
                anyhow::bail!("provider connection {id}: kind {:?}: use gp, hospital, mental-health, community, social-care, device or patient", c.kind);
            }
        }
        Ok(out)
    }

    fn set_by_environment(&self) -> anyhow::Result<Option<kith_smart::SmartConfig>> {
        let Some(base) = &self.smart_fhir_base else { return Ok(None) };
        Ok(Some(kith_smart::SmartConfig {
            name: self.smart_name.clone().ok_or_else(|| anyhow::anyhow!("KITH_SMART_NAME: name the organisation whose FHIR API KITH_SMART_FHIR_BASE is"))?,
            kind: self.smart_kind.clone(),
            fhir_base: base.clone(),
            client_id: self.smart_client_id.clone(),
            client_secret: self.smart_client_secret.clone(),
            authorize_url: self.smart_authorize_url.clone(),
            token_url: self.smart_token_url.clone(),
            scopes: self.smart_scopes.split([' ', ',']).filter(|w| !w.is_empty()).map(str::to_string).collect(),
        }))
    }
}

/// Signing in through OpenID Connect providers: NHS login (or another
/// patients' provider) and a staff provider, each by environment alone, and
/// any number more from a JSON file. The redirect URI to register with each
/// is `{KITH_PUBLIC_URL}/auth/oidc/callback`.
#[derive(Args, Clone, Default)]
pub struct OidcOptions {
    /// Issuer URL of the patients' provider (its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`). Unset: no such button.
    #[arg(long, env = "KITH_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "KITH_OIDC_CLIENT_ID", default_value = "kith")]
    pub oidc_client_id: String,
    #[arg(long, env = "KITH_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// RSA private key (PKCS#1 PEM) for `private_key_jwt`, which NHS login requires, instead of a secret.
    #[arg(long, env = "KITH_OIDC_PRIVATE_KEY_FILE")]
    pub oidc_private_key_file: Option<std::path::PathBuf>,
    /// The button says "Sign in with {name}".
    #[arg(long, env = "KITH_OIDC_NAME", default_value = "NHS login")]
    pub oidc_name: String,
    #[arg(long, env = "KITH_OIDC_SCOPES", default_value = "openid profile email nhs_number")]
    pub oidc_scopes: String,
    /// The identity proofing level at which the provider's `nhs_number` claim attaches a record.
    #[arg(long, env = "KITH_OIDC_PROOFING_LEVEL", default_value = "P9")]
    pub oidc_proofing_level: String,

    /// Issuer URL of the staff provider: its users sign in as clinicians.
    #[arg(long, env = "KITH_STAFF_OIDC_ISSUER")]
    pub staff_oidc_issuer: Option<String>,
    #[arg(long, env = "KITH_STAFF_OIDC_CLIENT_ID", default_value = "kith")]
    pub staff_oidc_client_id: String,
    #[arg(long, env = "KITH_STAFF_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub staff_oidc_client_secret: Option<String>,
    #[arg(long, env = "KITH_STAFF_OIDC_NAME", default_value = "your organisation")]
    pub staff_oidc_name: String,
    #[arg(long, env = "KITH_STAFF_OIDC_SCOPES", default_value = "openid profile email")]
    pub staff_oidc_scopes: String,
    /// The claim that names a staff member's organisation.
    #[arg(long, env = "KITH_STAFF_OIDC_ORGANISATION_CLAIM", default_value = "organisation")]
    pub staff_oidc_organisation_claim: String,

    /// A JSON file listing further providers: `[{"id", "name", "issuer",
    /// "client_id", "client_secret" or "private_key_pem", "scopes",
    /// "audience": "patient"|"clinician", "proofing_level", "organisation_claim"}]`.
    #[arg(long, env = "KITH_OIDC_PROVIDERS_FILE")]
    pub oidc_providers_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for OidcOptions {
    // Never the client secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcOptions").field("oidc_issuer", &self.oidc_issuer).field("staff_oidc_issuer", &self.staff_oidc_issuer).finish_non_exhaustive()
    }
}

impl OidcOptions {
    /// Every configured provider, checked (but not yet contacted: discovery
    /// happens at first use, so Kith starts while a provider is down).
    pub fn providers(&self) -> anyhow::Result<Vec<kith_oidc::ProviderConfig>> {
        use kith_oidc::{Audience, ProviderConfig};
        let words = |s: &str| s.split([' ', ',']).filter(|w| !w.is_empty()).map(str::to_string).collect::<Vec<_>>();
        let mut out = Vec::new();
        if let Some(issuer) = &self.oidc_issuer {
            let private_key_pem = match &self.oidc_private_key_file {
                Some(f) => Some(std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("KITH_OIDC_PRIVATE_KEY_FILE {}: {e}", f.display()))?),
                None => None,
            };
            out.push(ProviderConfig {
                id: "patient".into(),
                name: self.oidc_name.clone(),
                issuer: issuer.clone(),
                client_id: self.oidc_client_id.clone(),
                client_secret: self.oidc_client_secret.clone(),
                private_key_pem,
                scopes: words(&self.oidc_scopes),
                audience: Audience::Patient,
                proofing_level: self.oidc_proofing_level.clone(),
                organisation_claim: kith_oidc::default_organisation_claim(),
            });
        }
        if let Some(issuer) = &self.staff_oidc_issuer {
            out.push(ProviderConfig {
                id: "staff".into(),
                name: self.staff_oidc_name.clone(),
                issuer: issuer.clone(),
                client_id: self.staff_oidc_client_id.clone(),
                client_secret: self.staff_oidc_client_secret.clone(),
                private_key_pem: None,
                scopes: words(&self.staff_oidc_scopes),
                audience: Audience::Clinician,
                proofing_level: kith_oidc::default_proofing_level(),
                organisation_claim: self.staff_oidc_organisation_claim.clone(),
            });
        }
        if let Some(f) = &self.oidc_providers_file {
            let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("KITH_OIDC_PROVIDERS_FILE {}: {e}", f.display()))?;
            let more: Vec<ProviderConfig> = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("KITH_OIDC_PROVIDERS_FILE {}: {e}", f.display()))?;
            out.extend(more);
        }
        let mut ids = std::collections::HashSet::new();
        for p in &out {
            if !ids.insert(p.id.clone()) {
                anyhow::bail!("two sign-in providers have the id {:?}; give each its own", p.id);
            }
            if p.id.is_empty() || !p.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                anyhow::bail!("sign-in provider id {:?}: use letters, digits, - and _", p.id);
            }
        }
        Ok(out)
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3000".parse().unwrap(),
            public_url: "http://127.0.0.1:3000".into(),
            session_idle_minutes: 30,
            site_root: "target/site".into(),
            max_upload_mb: 50,
            break_glass: false,
            require_two_step: String::new(),
            audit_checkpoint_minutes: 60,
            oidc: OidcOptions::default(),
            smart: SmartOptions { smart_refresh_hours: 24, ..Default::default() },
            mail: MailOptions::default(),
        }
    }
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| format!("KITH_ADDR / --addr: {s:?} is not an address to listen on; write it like 127.0.0.1:3000"))
}

fn parse_roles(s: &str) -> Result<String, String> {
    kith_core::two_step::parse_roles(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("KITH_REQUIRE_TWO_STEP / --require-two-step: {e}; write roles like clinician,carer"))
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let ok = (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len();
    if ok {
        Ok(s.trim_end_matches('/').to_string())
    } else {
        Err(format!("KITH_PUBLIC_URL / --public-url: {s:?} must start with http:// or https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn debug_hides_database_passwords() {
        let cli =
            Cli::try_parse_from(["kith", "--database", "postgres://app:s3cret@db/kith", "--database-owner", "postgres://owner:0wner@db/kith", "demo"]).unwrap();
        assert_eq!(cli.global.database_owner_url.as_deref(), Some("postgres://owner:0wner@db/kith"));
        let shown = format!("{cli:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("0wner"), "{shown}");
        assert!(shown.contains("postgres://owner:***@db/kith"), "{shown}");
    }

    #[test]
    fn bad_address_names_the_option() {
        let e = parse_addr("localhost").unwrap_err();
        assert!(e.contains("KITH_ADDR"), "{e}");
    }

    #[test]
    fn provider_files_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("kith-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("smart.json");
        std::fs::write(&f, r#"[{"id": "gp", "name": "Riverside Surgery", "kind": "gp", "fhir_base": "https://fhir.example/r4", "client_id": "k"}]"#).unwrap();
        let opts = SmartOptions {
            smart_providers_file: Some(f.clone()),
            smart_fhir_base: Some("https://h.example/fhir".into()),
            smart_name: Some("Hilltop".into()),
            smart_kind: "hospital".into(),
            ..Default::default()
        };
        let got = opts.connections().unwrap();
        assert_eq!(got.iter().map(|(k, c)| (k.as_str(), c.name.as_str())).collect::<Vec<_>>(), vec![("smart", "Hilltop"), ("gp", "Riverside Surgery")]);
        assert_eq!(got[1].1.scopes, kith_smart::default_scopes(), "scopes default");
        std::fs::write(&f, r#"[{"id": "smart", "name": "X", "kind": "gp", "fhir_base": "https://x", "client_id": "k"}]"#).unwrap();
        assert!(opts.connections().unwrap_err().to_string().contains("give each its own"));
        std::fs::write(&f, r#"[{"id": "x", "name": "X", "kind": "clinic", "fhir_base": "https://x", "client_id": "k"}]"#).unwrap();
        assert!(opts.connections().unwrap_err().to_string().contains("kind"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_output_leaves_client_secrets_out() {
        let o = OidcOptions { oidc_client_secret: Some("s3cret-oidc".into()), staff_oidc_client_secret: Some("s3cret-staff".into()), ..Default::default() };
        let s = SmartOptions {
            smart_client_secret: Some("s3cret-smart".into()),
            smart_fhir_base: Some("https://x".into()),
            smart_name: Some("X".into()),
            smart_kind: "gp".into(),
            ..Default::default()
        };
        let printed = format!("{o:?} {s:?} {:?}", s.connections().unwrap());
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn mail_needs_both_options_and_hides_the_server_url() {
        let none = MailOptions::default();
        assert!(none.settings("http://k").unwrap().is_none());
        let half = MailOptions { smtp_url: Some("smtp://127.0.0.1:2525".into()), mail_from: None };
        assert!(half.settings("http://k").unwrap_err().to_string().contains("KITH_MAIL_FROM"));
        let both = MailOptions { smtp_url: Some("smtp://kith:s3cret@127.0.0.1:2525".into()), mail_from: Some("Kith <kith@example.org>".into()) };
        assert!(both.settings("http://k").unwrap().is_some());
        assert!(!format!("{both:?}").contains("s3cret"));
    }

    #[test]
    fn public_url_must_be_http() {
        assert!(parse_public_url("ftp://x").unwrap_err().contains("KITH_PUBLIC_URL"));
        assert_eq!(parse_public_url("https://kith.example/").unwrap(), "https://kith.example");
    }
}
