//! Demo data, written on first start of an empty development database, so the GraphiQL
//! walk-through in the README works at once.
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};

use crate::AppState;
use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::{Role, password, totp};
use crate::entities::user;
use crate::error::AppResult;
use crate::services::audit::action;
use crate::services::{accounts, work};

/// A demo account: email, password, name, role, 2FA on, impersonation allowed.
pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub two_factor: bool,
    pub impersonation_allowed: bool,
}

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        email: "super@demo.test",
        password: "demo-super-1",
        name: "Sam Super",
        role: Role::SuperAdmin,
        two_factor: true,
        impersonation_allowed: true,
    },
    DemoAccount {
        email: "admin@demo.test",
        password: "demo-admin-1",
        name: "Ada Admin",
        role: Role::Admin,
        two_factor: true,
        impersonation_allowed: true,
    },
    DemoAccount {
        email: "olivia@demo.test",
        password: "demo-owner-1",
        name: "Olivia Owner",
        role: Role::User,
        two_factor: false,
        impersonation_allowed: true,
    },
    DemoAccount {
        email: "paul@demo.test",
        password: "demo-owner-2",
        name: "Paul Private",
        role: Role::User,
        two_factor: false,
        impersonation_allowed: false,
    },
];

/// Whether the database has no users yet.
pub async fn is_empty(state: &AppState) -> AppResult<bool> {
    Ok(user::Entity::find().count(&state.db).await? == 0)
}

/// Whether the demo accounts are in this database (to print their logins at start).
pub async fn demo_present(state: &AppState) -> AppResult<bool> {
    Ok(accounts::find_by_email(&state.db, DEMO_ACCOUNTS[0].email)
        .await?
        .is_some())
}

/// Writes the demo accounts, their teams, businesses, leads and comments.
pub async fn seed_demo(state: &AppState) -> AppResult<()> {
    let meta = RequestMeta::default();
    for a in DEMO_ACCOUNTS {
        let hash = password::hash(&state.hashing, a.password.to_string()).await?;
        let txn = crate::services::write_txn(&state.db).await?;
        let new = accounts::NewUser {
            email: a.email,
            password_hash: hash,
            name: a.name,
            role: a.role,
        };
        let u =
            accounts::create_user_with_team(state, &txn, new, action::USER_CREATED, &meta).await?;
        let mut m = u.into_active_model();
        m.impersonation_allowed = Set(a.impersonation_allowed);
        if a.two_factor {
            m.totp_secret = Set(Some(totp::new_secret()));
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
            let b = work::create_business(state, &ctx, &format!("{first}'s Bakery"), &meta).await?;
            let l = work::create_lead(
                state,
                &ctx,
                &format!("{first}'s first lead"),
                Some(&b.id),
                &meta,
            )
            .await?;
            work::add_comment(
                state,
                &ctx,
                work::CommentTarget::Business(&b.id),
                "Call back on Monday.",
                &meta,
            )
            .await?;
            work::add_comment(
                state,
                &ctx,
                work::CommentTarget::Lead(&l.id),
                "Interested in the premium plan.",
                &meta,
            )
            .await?;
        }
    }
    Ok(())
}

/// The current TOTP code of a demo account; `None` for any other account.
pub async fn demo_totp(state: &AppState, email: &str) -> AppResult<Option<String>> {
    if !DEMO_ACCOUNTS
        .iter()
        .any(|a| a.email == email && a.two_factor)
    {
        return Ok(None);
    }
    let Some(u) = accounts::find_by_email(&state.db, email).await? else {
        return Ok(None);
    };
    let Some(secret) = u.totp_secret else {
        return Ok(None);
    };
    Ok(Some(totp::code_at(&secret, state.clock.now().timestamp())?))
}
