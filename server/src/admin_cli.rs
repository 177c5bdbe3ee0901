//! `portal admin …`: account management on the portal's host, for the first
//! steps and for getting back in when every admin is locked out.

use std::io::BufRead;

use anyhow::Context;

use crate::audit::Actor;
use crate::auth::accounts::{self, NewLocalUser};
use crate::cli::{AdminCommand, CommonArgs, KeyringCommand};
use crate::serve::open_store;

pub async fn run(common: &CommonArgs, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let actor = Actor::command_line();
    match command {
        AdminCommand::CreateUser {
            username,
            role,
            display_name,
            email,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let (user, generated) = accounts::create_local_user(
                store.as_ref(),
                &actor,
                NewLocalUser {
                    username,
                    display_name,
                    email,
                    role,
                    password,
                },
            )
            .await
            .context("cannot create the user")?;
            println!("created {} {}", user.role, user.username);
            if let Some(password) = generated {
                println!("password: {password}");
                println!("(shown once: hand it over, it cannot be read back)");
            }
        }
        AdminCommand::SetRole { username, role } => {
            let user = current(store.as_ref(), &username).await?;
            let user = accounts::set_access(store.as_ref(), &actor, &username, role, user.disabled)
                .await
                .context("cannot change the role")?;
            println!(
                "{} is now {}; their sessions have ended",
                user.username, user.role
            );
        }
        AdminCommand::Disable { username } => {
            let user = current(store.as_ref(), &username).await?;
            accounts::set_access(store.as_ref(), &actor, &username, user.role, true)
                .await
                .context("cannot disable the user")?;
            println!("{} is disabled; their sessions have ended", user.username);
        }
        AdminCommand::Enable { username } => {
            let user = current(store.as_ref(), &username).await?;
            accounts::set_access(store.as_ref(), &actor, &username, user.role, false)
                .await
                .context("cannot enable the user")?;
            println!("{} may sign in again", user.username);
        }
        AdminCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let generated = accounts::reset_password(store.as_ref(), &actor, &username, password)
                .await
                .context("cannot reset the password")?;
            println!("new password set for {username}; their sessions have ended");
            if let Some(password) = generated {
                println!("password: {password}");
                println!("(shown once: hand it over, it cannot be read back)");
            }
        }
    }
    Ok(())
}

async fn current(
    store: &dyn crate::store::Store,
    username: &str,
) -> anyhow::Result<crate::store::User> {
    match store.user_by_username(username).await {
        Ok(user) => Ok(user),
        Err(crate::store::StoreError::NotFound) => {
            anyhow::bail!("there is no user named {username:?}")
        }
        Err(error) => Err(error.into()),
    }
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `portal keyring status|rewrap`.
pub async fn keyring(common: &CommonArgs, command: KeyringCommand) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let (KeyringCommand::Status(args) | KeyringCommand::Rewrap(args)) = &command;
    let path = args
        .keyring
        .clone()
        .unwrap_or_else(|| common.data_dir.join("keyring"));
    let (keyring, _) = crate::crypto::Keyring::open_or_create(&path, false)?;
    if let KeyringCommand::Rewrap(_) = command {
        let report = crate::secrets::rewrap::rewrap(store.as_ref(), &keyring)
            .await
            .context("cannot re-wrap")?;
        println!(
            "re-wrapped {} value(s) under key {}; {} already under it; {} changed meanwhile (left as written)",
            report.rewrapped,
            keyring.active_id(),
            report.current,
            report.skipped
        );
        for failure in &report.failed {
            println!("not re-wrapped: {failure}");
        }
        if !report.failed.is_empty() {
            anyhow::bail!("{} value(s) could not be opened", report.failed.len());
        }
    }
    let counts = store
        .sealed_rows_per_key()
        .await
        .context("cannot count the sealed values")?;
    for id in keyring.ids() {
        let rows = counts
            .iter()
            .find(|(key, _)| key == id)
            .map_or(0, |(_, rows)| *rows);
        let role = if id == keyring.active_id() {
            " (active)"
        } else {
            ""
        };
        println!("{id}{role}: {rows} row(s)");
    }
    for (id, rows) in counts.iter().filter(|(id, _)| !keyring.contains(id)) {
        println!("{id} (NOT in the keyring): {rows} row(s)");
    }
    Ok(())
}
