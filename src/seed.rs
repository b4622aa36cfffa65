//! Demo data, written on first start of an empty development database, so the GraphiQL
//! walk-through in the README works at once.
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::MayWrite;
use crate::auth::{Role, password, totp};
use crate::entities::user;
use crate::error::AppResult;
use crate::services::audit::action;
use crate::services::work::comments::{self, CommentTarget};
use crate::services::{
    accounts::sign_in, accounts::signup, accounts::users, work::businesses, work::leads,
};
use crate::state::AppState;

/// A demo account: email, password, name, role, 2FA on, impersonation allowed, approval
/// required.
pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub two_factor: bool,
    pub impersonation_allowed: bool,
    pub requires_approval: bool,
}

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        email: "super@demo.test",
        password: "demo-super-1",
        name: "Sam Super",
        role: Role::SuperAdmin,
        two_factor: true,
        impersonation_allowed: true,
        requires_approval: false,
    },
    DemoAccount {
        email: "admin@demo.test",
        password: "demo-admin-1",
        name: "Ada Admin",
        role: Role::Admin,
        two_factor: true,
        impersonation_allowed: true,
        requires_approval: false,
    },
    DemoAccount {
        email: "olivia@demo.test",
        password: "demo-owner-1",
        name: "Olivia Owner",
        role: Role::User,
        two_factor: false,
        impersonation_allowed: true,
        requires_approval: false,
    },
    DemoAccount {
        email: "quinn@demo.test",
        password: "demo-owner-3",
        name: "Quinn Careful",
        role: Role::User,
        two_factor: false,
        impersonation_allowed: true,
        requires_approval: true,
    },
    DemoAccount {
        email: "paul@demo.test",
        password: "demo-owner-2",
        name: "Paul Private",
        role: Role::User,
        two_factor: false,
        impersonation_allowed: false,
        requires_approval: false,
    },
];

/// Seeds the demo data on the first start of an empty development database (unless
/// `SEED_DEMO=false`). Returns whether it did.
pub async fn seed_if_empty(state: &AppState) -> AppResult<bool> {
    let dev = state.config.environment == crate::config::Environment::Development;
    if !dev || !state.config.seed_demo || !is_empty(state).await? {
        return Ok(false);
    }
    seed_demo(state).await?;
    Ok(true)
}

/// Whether the database has no users yet.
pub async fn is_empty(state: &AppState) -> AppResult<bool> {
    Ok(user::Entity::find().count(&state.db).await? == 0)
}

/// Whether the demo accounts are in this database (to print their logins at start).
pub async fn demo_present(state: &AppState) -> AppResult<bool> {
    Ok(users::find_by_email(&state.db, DEMO_ACCOUNTS[0].email)
        .await?
        .is_some())
}

/// Writes the demo accounts, their teams, businesses, leads and comments.
pub async fn seed_demo(state: &AppState) -> AppResult<()> {
    let meta = RequestMeta::default();
    for a in DEMO_ACCOUNTS {
        let hash = password::hash(&state.hashing, a.password.to_string()).await?;
        let txn = crate::db::write_txn(state).await?;
        let new = signup::NewUser {
            email: a.email,
            password_hash: hash,
            name: a.name,
            role: a.role,
        };
        let u =
            signup::create_user_with_team(state, &txn, new, action::USER_CREATED, &meta).await?;
        let mut m = u.into_active_model();
        m.impersonation_allowed = Set(a.impersonation_allowed);
        m.impersonation_requires_approval = Set(a.requires_approval);
        if a.two_factor {
            let sealed = state
                .config
                .data_keys
                .seal(crate::sealed::Field::TotpSecret, &totp::new_secret())?;
            m.totp_secret = Set(Some(sealed));
            m.totp_enabled = Set(true);
        }
        let u = m.update(&txn).await?;
        txn.commit().await?;
        if a.role == Role::User {
            let ctx = AuthContext {
                role: a.role,
                team_id: u.current_team_id.clone(),
                two_factor_authenticated: false,
                pre_two_factor: false,
                user: u.clone(),
                impersonation: None,
            };
            let first = a.name.split(' ').next().unwrap_or(a.name);
            let b = businesses::create_business(
                state,
                MayWrite::check(&ctx)?,
                &format!("{first}'s Bakery"),
                &meta,
            )
            .await?;
            let l = leads::create_lead(
                state,
                MayWrite::check(&ctx)?,
                &format!("{first}'s first lead"),
                Some(&b.id),
                &meta,
            )
            .await?;
            comments::add(
                state,
                MayWrite::check(&ctx)?,
                CommentTarget::Business(&b.id),
                "Call back on Monday.",
                &meta,
            )
            .await?;
            comments::add(
                state,
                MayWrite::check(&ctx)?,
                CommentTarget::Lead(&l.id),
                "Interested in the premium plan.",
                &meta,
            )
            .await?;
        }
    }
    Ok(())
}

/// The current TOTP code of a demo account; `None` for any other account.
pub async fn demo_totp(state: &AppState, email: &str, next: bool) -> AppResult<Option<String>> {
    if !DEMO_ACCOUNTS
        .iter()
        .any(|a| a.email == email && a.two_factor)
    {
        return Ok(None);
    }
    let Some(u) = users::find_by_email(&state.db, email).await? else {
        return Ok(None);
    };
    // A demo account locked by `disable-demo-accounts` is nobody's demo any more.
    if !published_demo_accounts(state)
        .await?
        .contains(&u.email.as_str())
    {
        return Ok(None);
    }
    let Some(stored) = u.totp_secret else {
        return Ok(None);
    };
    let secret = state
        .config
        .data_keys
        .open(crate::sealed::Field::TotpSecret, &stored)?;
    let at = state.clock.now().timestamp() + if next { 30 } else { 0 };
    Ok(Some(totp::code_at(&secret, at)?))
}

/// The demo accounts in this database that still accept their published password. Production
/// refuses to start while there is one: anyone who read the README could sign in.
pub async fn published_demo_accounts(state: &AppState) -> AppResult<Vec<&'static str>> {
    let mut open = vec![];
    for a in DEMO_ACCOUNTS {
        if let Some(u) = users::find_by_email(&state.db, a.email).await?
            && password::verify(
                &state.hashing,
                a.password.to_string(),
                Some(u.password_hash),
            )
            .await?
        {
            open.push(a.email);
        }
    }
    Ok(open)
}

/// `disable-demo-accounts`: gives each demo account a random password nobody knows and ends
/// its sessions, so a database that once ran in development can serve production. Returns
/// the emails it locked.
pub async fn disable_demo_accounts(state: &AppState) -> AppResult<Vec<&'static str>> {
    let mut locked = vec![];
    for email in published_demo_accounts(state).await? {
        let Some(u) = users::find_by_email(&state.db, email).await? else {
            continue;
        };
        let unknown = uuid::Uuid::new_v4().to_string() + &uuid::Uuid::new_v4().to_string();
        let hash = password::hash(&state.hashing, unknown).await?;
        let now = crate::db::db_time(state.clock.now());
        let txn = crate::db::write_txn(state).await?;
        let id = u.id.clone();
        let mut m = u.into_active_model();
        m.password_hash = Set(hash);
        // The TOTP secret is replaced too: whoever printed codes for it holds nothing now.
        if m.totp_secret.as_ref().is_some() {
            let fresh = crate::auth::totp::new_secret();
            let sealed = state
                .config
                .data_keys
                .seal(crate::sealed::Field::TotpSecret, &fresh)?;
            m.totp_secret = Set(Some(sealed));
            m.totp_last_step = Set(None);
        }
        m.sessions_valid_after = Set(Some(now));
        m.updated_at = Set(now);
        m.update(&txn).await?;
        sign_in::revoke_all_refresh_tokens(&txn, &id, now).await?;
        crate::services::audit::record(
            &txn,
            crate::services::audit::Entry::new(
                action::DEMO_ACCOUNT_DISABLED,
                crate::services::audit::attribution::Attribution::user(&id),
                now,
            )
            .entity("User", &id),
        )
        .await?;
        txn.commit().await?;
        locked.push(email);
    }
    Ok(locked)
}

/// The lines `serve` prints at start in development: where to go, and the demo logins.
pub async fn banner(state: &AppState, addr: &str, seeded: bool) -> String {
    let mut banner = format!("CRM API listening on http://{addr}\n");
    if state.config.environment != crate::config::Environment::Development {
        return banner;
    }
    // The console where passkeys work: the WebAuthn origin, when it is this server's port.
    let origin = &state.config.relying_party.origin;
    let port = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let site = match origin.port_or_known_default() == port {
        true => origin.as_str().trim_end_matches('/').to_string(),
        false => format!("http://{addr}"),
    };
    banner.push_str(&format!("Web console: {site}/\n"));
    banner.push_str(&format!("GraphiQL: {site}/graphql\n"));
    if !(seeded || demo_present(state).await.unwrap_or(false)) {
        return banner;
    }
    let head = if seeded {
        "Demo data seeded. Logins"
    } else {
        "Demo logins"
    };
    banner.push_str(&format!("{head} (email / password):\n"));
    for a in DEMO_ACCOUNTS {
        let note = if a.two_factor {
            " (2FA on: code from `cargo run --release -- demo-totp EMAIL`)"
        } else if !a.impersonation_allowed {
            " (impersonation switched off)"
        } else if a.requires_approval {
            " (approves each support session)"
        } else {
            ""
        };
        banner.push_str(&format!(
            "  {:<18} {:<14} {:?}{note}\n",
            a.email, a.password, a.role
        ));
    }
    banner
}
