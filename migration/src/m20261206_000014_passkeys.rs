//! Passkeys (WebAuthn): `passkeys`, a user's registered credentials; `webauthn_challenges`,
//! the server's half of a ceremony between its two steps, in the database so that any server
//! of several can finish what another began; and `users.has_passkey`, so that "2FA is on" stays
//! a read of the user's row. No user has a passkey yet: the column starts false for everyone.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    HasPasskey,
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    Name,
    CredentialId,
    Credential,
    Counter,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnChallenges {
    Table,
    Id,
    UserId,
    Kind,
    Purpose,
    State,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::HasPasskey).default(false))
                    .to_owned(),
            )
            .await?;
        use Passkeys as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(string_len(P::Id, 36).primary_key())
                    .col(string_len(P::UserId, 36))
                    .col(string_len(P::Name, 100))
                    .col(string_len(P::CredentialId, 1400).unique_key())
                    .col(text(P::Credential))
                    .col(big_integer(P::Counter))
                    .col(timestamp_with_time_zone(P::CreatedAt))
                    .col(timestamp_with_time_zone_null(P::LastUsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user")
                    .table(P::Table)
                    .col(P::UserId)
                    .to_owned(),
            )
            .await?;
        use WebauthnChallenges as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(string_len(C::Id, 36).primary_key())
                    .col(string_len(C::UserId, 36))
                    .col(string_len(C::Kind, 16))
                    .col(string_len_null(C::Purpose, 32))
                    .col(text(C::State))
                    .col(timestamp_with_time_zone(C::CreatedAt))
                    .col(timestamp_with_time_zone(C::ExpiresAt))
                    .col(timestamp_with_time_zone_null(C::UsedAt))
                    .to_owned(),
            )
            .await?;
        // The sweeper deletes challenges past their expiry.
        manager
            .create_index(
                Index::create()
                    .name("idx_webauthn_challenges_expires")
                    .table(C::Table)
                    .col(C::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebauthnChallenges::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Passkeys::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::HasPasskey)
                    .to_owned(),
            )
            .await
    }
}
