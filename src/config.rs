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

#[derive(Args, Debug, Clone)]
pub struct GlobalOptions {
    /// Database: `sqlite://PATH` (created on first run) or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(long = "database", env = "KITH_DATABASE_URL", default_value = "sqlite://data/kith.db", global = true, hide_env_values = true)]
    pub database_url: String,

    /// The server's ed25519 key that signs access-log checkpoints (created on first run, mode 0600).
    #[arg(long, env = "KITH_AUDIT_KEY_FILE", default_value = "data/audit-signing.key", global = true)]
    pub audit_key_file: std::path::PathBuf,

    /// What to log, as a tracing filter (health data and passwords are never logged).
    #[arg(long = "log", env = "KITH_LOG", default_value = "info,sqlx=warn,tower_sessions=warn", global = true)]
    pub log: String,
}

#[derive(Subcommand, Debug)]
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
    /// Sign every chain head that moved since its last checkpoint.
    Checkpoint,
    /// Write a record's access log to standard output.
    Export {
        #[arg(long)]
        nhs_number: String,
        /// fhir (a Bundle of AuditEvent resources) or csv.
        #[arg(long, default_value = "fhir", value_parser = ["fhir", "csv"])]
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
        }
    }
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        format!("KITH_ADDR / --addr: {s:?} is not an address to listen on; write it like 127.0.0.1:3000")
    })
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
    fn bad_address_names_the_option() {
        let e = parse_addr("localhost").unwrap_err();
        assert!(e.contains("KITH_ADDR"), "{e}");
    }

    #[test]
    fn public_url_must_be_http() {
        assert!(parse_public_url("ftp://x").unwrap_err().contains("KITH_PUBLIC_URL"));
        assert_eq!(parse_public_url("https://kith.example/").unwrap(), "https://kith.example");
    }
}
