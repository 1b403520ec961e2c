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

pub async fn user_add(kith: &Kith, opts: UserAddOptions) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    let result = kith
        .create_user(NewUser {
            name: opts.name,
            email: opts.email,
            password,
            role: opts.role,
            nhs_number: opts.nhs_number.unwrap_or_default(),
            birth_date: opts.birth_date.unwrap_or_default(),
        })
        .await;
    match result {
        Ok(actor) => {
            println!("Created {} ({})", actor.name, actor.role);
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
