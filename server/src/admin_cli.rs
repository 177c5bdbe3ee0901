//! `portal admin …`: account management on the portal's host, for the first
//! steps and for getting back in when every admin is locked out.

use std::io::BufRead;

use anyhow::Context;

use crate::audit::Actor;
use crate::auth::accounts::{self, NewLocalUser};
use crate::cli::{AdminCommand, CommonArgs};
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
