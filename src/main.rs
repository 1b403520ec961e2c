use clap::Parser;
use kith::config::{AuditCommand, Cli, Command, ServeOptions, UserCommand};
use kith_core::{Db, Kith, Settings};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.global.log).unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Checking a downloaded file needs no database (a third party has none).
    if let Some(Command::Audit(AuditCommand::VerifyFile { file, earlier, public_key })) = &cli.command {
        return kith::cli::audit_verify_file(file, earlier, public_key.as_deref());
    }
    let serve_opts = match &cli.command {
        Some(Command::Serve(o)) => o.clone(),
        _ => ServeOptions::default(),
    };
    // An empty KITH_DATABASE_OWNER_URL counts as unset.
    let owner_url = cli.global.database_owner_url.as_deref().filter(|u| !u.is_empty());
    let db = Db::connect_with_owner(&cli.global.database_url, owner_url).await?;
    let settings = Settings {
        session_idle_minutes: serve_opts.session_idle_minutes,
        break_glass: serve_opts.break_glass,
        two_step_roles: kith_core::two_step::parse_roles(&serve_opts.require_two_step).unwrap_or_default(),
        mail: match &cli.command {
            Some(Command::User(UserCommand::SendConfirmations { public_url, mail })) => mail.settings(public_url)?,
            _ => serve_opts.mail.settings(&serve_opts.public_url)?,
        },
        ..Settings::default()
    };
    let key = kith_core::audit::load_or_create_key(&cli.global.audit_key_file)
        .map_err(|e| anyhow::anyhow!("KITH_AUDIT_KEY_FILE / --audit-key-file {}: {e}", cli.global.audit_key_file.display()))?;
    let token_key = kith_core::keyfile::load_or_create(&cli.global.token_key_file, "token key")
        .map_err(|e| anyhow::anyhow!("KITH_TOKEN_KEY_FILE / --token-key-file {}: {e}", cli.global.token_key_file.display()))?;
    let kith = Kith::new(db, settings).with_audit_key(key).with_token_key(token_key);
    match cli.command {
        None | Some(Command::Serve(_)) => kith::server::serve(kith, serve_opts).await,
        Some(Command::Demo) => {
            let url = std::env::var("KITH_PUBLIC_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
            kith::cli::demo(&kith, &url).await
        }
        Some(Command::User(UserCommand::Add(o))) => kith::cli::user_add(&kith, o).await,
        Some(Command::User(UserCommand::VerifyClinician { email })) => kith::cli::verify_clinician(&kith, &email).await,
        Some(Command::User(UserCommand::SetPassword { email })) => kith::cli::set_password(&kith, &email).await,
        Some(Command::User(UserCommand::ConfirmEmail { email })) => kith::cli::confirm_email(&kith, &email).await,
        Some(Command::User(UserCommand::SendConfirmations { .. })) => kith::cli::send_confirmations(&kith).await,
        Some(Command::Import(o)) => kith::cli::import(&kith, o).await,
        Some(Command::Record(o)) => kith::cli::record(&kith, o).await,
        Some(Command::Export(o)) => kith::cli::export(&kith, o).await,
        Some(Command::Audit(AuditCommand::Verify { nhs_number })) => kith::cli::audit_verify(&kith, nhs_number).await,
        Some(Command::Audit(AuditCommand::Checkpoint)) => kith::cli::audit_checkpoint(&kith).await,
        Some(Command::Audit(AuditCommand::VerifyFile { .. })) => unreachable!("handled before connecting"),
        Some(Command::Audit(AuditCommand::SignInFailures { limit })) => {
            for f in kith.sign_in_failures(limit).await.map_err(|e| anyhow::anyhow!("{}", e.into_app_error()))? {
                println!("{f}");
            }
            Ok(())
        }
        Some(Command::Audit(AuditCommand::Export { nhs_number, format })) => kith::cli::audit_export(&kith, &nhs_number, &format).await,
    }
}
