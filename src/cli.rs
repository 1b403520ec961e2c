//! The command-line tools besides `serve`.

use std::io::BufRead;

use kith_core::{demo, Kith, NewUser};

use crate::config::UserAddOptions;

pub async fn demo(kith: &Kith, public_url: &str) -> anyhow::Result<()> {
    let loaded = demo::load(kith).await.map_err(|e| anyhow::anyhow!(e.into_app_error().to_string()))?;
    println!("Demo people are ready. Open {public_url} and sign in as:");
    for (p, state) in loaded {
        let note = match state {
            demo::Loaded::Created => "",
            demo::Loaded::AlreadyThere => " (already there)",
        };
        println!();
        println!("  {} — {}{}", p.name, p.about, note);
        println!("    email:    {}", p.email);
        println!("    password: {}", p.password);
    }
    Ok(())
}

/// Reads a password: typed at a terminal without showing it (nor leaving it
/// in the scrollback), or one line from a pipe.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        // Asked twice: a typing slip would set a password nobody knows.
        let first = rpassword::prompt_password(prompt)?;
        if rpassword::prompt_password("The same password again: ")? != first {
            anyhow::bail!("The two passwords were not the same: nothing was changed.");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn user_add(kith: &Kith, opts: UserAddOptions) -> anyhow::Result<()> {
    let password = read_password("Password for the new account: ")?;
    let result = kith
        .create_user(NewUser {
            name: opts.name,
            email: opts.email,
            password,
            role: opts.role,
            nhs_number: opts.nhs_number.unwrap_or_default(),
            birth_date: opts.birth_date.unwrap_or_default(),
            organisation: opts.organisation.unwrap_or_default(),
        })
        .await;
    match result {
        Ok(actor) => {
            println!("Created {} ({})", actor.name, actor.role);
            println!("Kith emails them nothing until their address is confirmed: `kith user send-confirmations` emails them a link, or `kith user confirm-email --email ...` if you checked it with them.");
            if actor.role == kith_types::Role::Clinician {
                println!("Once you have checked their staff identity, `kith user verify-clinician --email ...` lets them use emergency access.");
            }
            Ok(())
        }
        Err(e) => {
            let e = e.into_app_error();
            let mut msg = e.to_string();
            if let kith_types::AppError::Validation { errors, .. } = &e {
                for fe in errors {
                    msg.push_str(&format!("\n  --{}: {}", fe.field.replace('_', "-"), fe.message));
                }
            }
            Err(anyhow::anyhow!(msg))
        }
    }
}

pub async fn verify_clinician(kith: &Kith, email: &str) -> anyhow::Result<()> {
    match kith.verify_clinician(email).await.map_err(|e| anyhow::anyhow!(e.into_app_error().to_string()))? {
        true => {
            println!("Checked: {email} may use emergency access where this Kith allows it.");
            Ok(())
        }
        false => Err(anyhow::anyhow!("No clinician's account has the email address {email}.")),
    }
}

pub async fn set_password(kith: &Kith, email: &str) -> anyhow::Result<()> {
    let password = read_password(&format!("New password for {email}: "))?;
    let password = password.as_str();
    // A refused password says why (the policy's words), not just that it was.
    let explained = |e: kith_core::CoreError| match e.into_app_error() {
        kith_types::AppError::Validation { errors, .. } => anyhow::anyhow!(errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ")),
        other => anyhow::anyhow!(other.to_string()),
    };
    match kith.set_password_by_operator(email, password).await.map_err(explained)? {
        true => {
            println!("New password set for {email}; every session of that account has ended.");
            Ok(())
        }
        false => Err(anyhow::anyhow!("No account has the email address {email}.")),
    }
}

pub async fn confirm_email(kith: &Kith, email: &str) -> anyhow::Result<()> {
    match kith.confirm_email_by_operator(email).await.map_err(user_facing)? {
        true => {
            println!("Confirmed: Kith may now email {email}.");
            Ok(())
        }
        false => Err(anyhow::anyhow!("No account has the email address {email}.")),
    }
}

pub async fn send_confirmations(kith: &Kith) -> anyhow::Result<()> {
    let (sent, failed) = kith.send_pending_confirmations().await.map_err(user_facing)?;
    println!("Sent {sent} links to confirm email addresses.");
    if failed > 0 {
        anyhow::bail!("The mail server refused {failed}: run this again later to send them.");
    }
    Ok(())
}

use kith_core::import::{ImportOutcome, ImportRequest};
use kith_core::policy::{Principal, Right};
use kith_types::NhsNumber;

use crate::config::{ExportOptions, ImportOptions, RecordOptions};

fn nhs(s: &str) -> anyhow::Result<NhsNumber> {
    NhsNumber::parse(s).map_err(|e| anyhow::anyhow!("--nhs-number {s}: {e}"))
}

fn user_facing(e: kith_core::CoreError) -> anyhow::Error {
    match e.into_app_error() {
        kith_types::AppError::NotFound => anyhow::anyhow!("no record with that NHS Number"),
        other => anyhow::anyhow!(other.to_string()),
    }
}

/// Imports each file; exits non-zero if any was refused. Held files (no NHS
/// Number) are reported and wait for the patient to confirm them.
pub async fn import(kith: &Kith, opts: ImportOptions) -> anyhow::Result<()> {
    let nhs_number = nhs(&opts.nhs_number)?;
    let kind = match &opts.source_kind {
        Some(k) => Some(
            k.parse().map_err(|e: String| anyhow::anyhow!("--source-kind: {e}; use gp, hospital, mental-health, community, social-care, device or patient"))?,
        ),
        None => None,
    };
    let access = kith.open_record(&Principal::Operator, &nhs_number, Right::Contribute).await.map_err(user_facing)?;
    let mut refused = 0;
    let mut summaries = Vec::new();
    // Each file is started (read, parsed and checked in the background)
    // before the one before it is finished (stored), so parsing the next
    // overlaps storing this one; files are still stored one at a time, in
    // the order given.
    let start = |path: &std::path::PathBuf| -> anyhow::Result<(String, Option<kith_core::import::StartedImport>, Option<ImportOutcome>)> {
        let file = path.display().to_string();
        Ok(match std::fs::read(path) {
            Ok(bytes) => {
                let req = ImportRequest {
                    file_name: file.clone(),
                    bytes,
                    source_kind: kind,
                    source_name: opts.source_name.clone(),
                    max_bytes: opts.max_upload_mb * 1024 * 1024,
                };
                (file, Some(kith.start_import(&access, req).map_err(user_facing)?), None)
            }
            Err(e) => {
                let reason = format!("cannot read the file: {e}");
                (file.clone(), None, Some(ImportOutcome::Refused { file, reason }))
            }
        })
    };
    let mut next = match opts.files.first() {
        Some(p) => Some(start(p)?),
        None => None,
    };
    for i in 0..opts.files.len() {
        let Some((file, started, unread)) = next.take() else { break };
        next = match opts.files.get(i + 1) {
            Some(p) => Some(start(p)?),
            None => None,
        };
        let outcome = match (started, unread) {
            (Some(s), _) => s.finish().await.map_err(user_facing)?,
            (None, Some(o)) => o,
            (None, None) => unreachable!("a file is either started or unreadable"),
        };
        if matches!(outcome, ImportOutcome::Refused { .. }) {
            refused += 1;
        }
        if !opts.json {
            match &outcome {
                ImportOutcome::Accepted(s) if s.nothing_changed() => {
                    println!("{file}: accepted from {} ({}); nothing new: all {} resources unchanged", s.source, s.source_kind, s.unchanged)
                }
                ImportOutcome::Accepted(s) => println!(
                    "{file}: accepted from {} ({}): {} new, {} changed, {} unchanged{}",
                    s.source,
                    s.source_kind,
                    s.new,
                    s.changed,
                    s.unchanged,
                    if s.unresolved_references > 0 {
                        format!("; {} references to resources not in the file kept as unresolved", s.unresolved_references)
                    } else {
                        String::new()
                    }
                ),
                ImportOutcome::Held { found_name, found_birth_date, .. } => println!(
                    "{file}: held: it has no NHS Number (it names {} born {}); it will be merged once the patient confirms it is theirs",
                    found_name.as_deref().unwrap_or("nobody"),
                    found_birth_date.as_deref().unwrap_or("on an unknown date")
                ),
                ImportOutcome::Refused { reason, .. } => eprintln!("{file}: refused: {reason}"),
            }
        }
        summaries.push(outcome);
    }
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    }
    if refused > 0 {
        anyhow::bail!("{refused} of {} files refused", opts.files.len());
    }
    Ok(())
}

pub async fn record(kith: &Kith, opts: RecordOptions) -> anyhow::Result<()> {
    let access = kith.open_record(&Principal::Operator, &nhs(&opts.nhs_number)?, Right::Read).await.map_err(user_facing)?;
    let entries = kith.record(&access).await.map_err(user_facing)?;
    // JSON is the only output format; --json is accepted for clarity in scripts.
    let _ = opts.json;
    println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "nhs_number": access.nhs_number().as_str(), "entries": entries }))?);
    Ok(())
}

pub async fn export(kith: &Kith, opts: ExportOptions) -> anyhow::Result<()> {
    let access = kith.open_record(&Principal::Operator, &nhs(&opts.nhs_number)?, Right::Read).await.map_err(user_facing)?;
    let bundle = if opts.care_plan { kith.care_plan_fhir(&access).await } else { kith.export_bundle(&access).await }.map_err(user_facing)?;
    println!("{}", serde_json::to_string(&bundle)?);
    Ok(())
}

/// Checks access-log chains; fails naming each broken record.
pub async fn audit_verify(kith: &Kith, nhs_number: Option<String>) -> anyhow::Result<()> {
    let results = match nhs_number {
        Some(n) => {
            let access = kith.open_record(&Principal::Operator, &nhs(&n)?, Right::Manage).await.map_err(user_facing)?;
            vec![(access.nhs_number().as_str().to_string(), kith.verify_chain(access.patient_id()).await.map_err(user_facing)?)]
        }
        None => kith.verify_all().await.map_err(user_facing)?,
    };
    let mut broken = 0;
    for (nhs, check) in &results {
        match &check.broken_at {
            None => println!(
                "{nhs}: ok, {} records, {} signed checkpoints{}",
                check.records,
                check.checkpoints,
                check.verified_up_to.as_ref().map(|t| format!(", verified up to {t}")).unwrap_or_default()
            ),
            Some((seq, why)) => {
                broken += 1;
                println!("{nhs}: BROKEN at record {seq}: {why}");
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{broken} of {} access logs are broken", results.len());
    }
    Ok(())
}

/// Checks a downloaded chain file on its own; fails naming the first broken record.
pub fn audit_verify_file(file: &std::path::Path, earlier: &[std::path::PathBuf], public_key: Option<&str>) -> anyhow::Result<()> {
    let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
    let text = read(file)?;
    let earlier_texts = earlier.iter().map(|p| read(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let refs: Vec<&str> = earlier_texts.iter().map(String::as_str).collect();
    let check = kith_core::audit::verify_chain_file(&text, &refs, public_key).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    match &check.broken_at {
        None => {
            println!(
                "ok, {} records, {} signed checkpoints{}",
                check.records,
                check.checkpoints,
                check.verified_up_to.as_ref().map(|t| format!(", verified up to {t}")).unwrap_or_default()
            );
            Ok(())
        }
        Some((seq, why)) => {
            println!("BROKEN at record {seq}: {why}");
            anyhow::bail!("the access log in {} is broken", file.display())
        }
    }
}

pub async fn audit_checkpoint(kith: &Kith) -> anyhow::Result<()> {
    let n = kith.checkpoint().await.map_err(user_facing)?;
    println!("Signed {n} chain heads (public key {})", kith.audit_public_key());
    Ok(())
}

pub async fn audit_export(kith: &Kith, nhs_number: &str, format: &str) -> anyhow::Result<()> {
    let access = kith.open_record(&Principal::Operator, &nhs(nhs_number)?, Right::Manage).await.map_err(user_facing)?;
    if format == "csv" {
        print!("{}", kith.audit_csv(&access).await.map_err(user_facing)?);
    } else if format == "chain" {
        println!("{}", serde_json::to_string_pretty(&kith.audit_chain_file(&access).await.map_err(user_facing)?)?);
    } else {
        println!("{}", serde_json::to_string(&kith.audit_events_bundle(&access).await.map_err(user_facing)?)?);
    }
    Ok(())
}
