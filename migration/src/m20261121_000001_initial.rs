//! The whole initial data model: users, teams, memberships, businesses, leads, comments,
//! audit logs, impersonations and refresh tokens. Runs unchanged on SQLite and PostgreSQL.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    Role,
    PasswordHash,
    ImpersonationAllowed,
    TotpSecret,
    TotpEnabled,
    TotpLastStep,
    CurrentTeamId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    Name,
    OwnerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    Id,
    TeamId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Businesses {
    Table,
    Id,
    TeamId,
    Name,
    CreatedById,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    TeamId,
    BusinessId,
    Name,
    CreatedById,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BusinessComments {
    Table,
    Id,
    BusinessId,
    AuthorId,
    OnBehalfOfId,
    Text,
    IsImpersonated,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LeadComments {
    Table,
    Id,
    LeadId,
    AuthorId,
    OnBehalfOfId,
    Text,
    IsImpersonated,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    ActorId,
    OnBehalfOfId,
    TeamId,
    Action,
    EntityType,
    EntityId,
    IsImpersonated,
    Details,
    IpAddress,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Impersonations {
    Table,
    Id,
    Code,
    ImpersonatorId,
    ImpersonatedUserId,
    ImpersonatorTeamId,
    StartedAt,
    ExpiresAt,
    EndedAt,
    Reason,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    FamilyId,
    UserId,
    TeamId,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(Alias::new(*c));
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, 36).primary_key())
                    .col(string_len_uniq(Users::Email, 320))
                    .col(string_len(Users::Name, 200))
                    .col(string_len(Users::Role, 20))
                    .col(string(Users::PasswordHash))
                    .col(boolean(Users::ImpersonationAllowed).default(true))
                    .col(string_null(Users::TotpSecret))
                    .col(boolean(Users::TotpEnabled).default(false))
                    .col(big_integer_null(Users::TotpLastStep))
                    .col(string_len_null(Users::CurrentTeamId, 36))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(string_len(Teams::Id, 36).primary_key())
                    .col(string_len(Teams::Name, 200))
                    .col(string_len(Teams::OwnerId, 36))
                    .col(timestamp_with_time_zone(Teams::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Teams::Table, Teams::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_teams_owner", Teams::Table, &["owner_id"]))
            .await?;
        manager
            .create_index(index("idx_teams_name", Teams::Table, &["name"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TeamMembers::Table)
                    .col(string_len(TeamMembers::Id, 36).primary_key())
                    .col(string_len(TeamMembers::TeamId, 36))
                    .col(string_len(TeamMembers::UserId, 36))
                    .col(string_len(TeamMembers::Role, 20))
                    .col(timestamp_with_time_zone(TeamMembers::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamMembers::Table, TeamMembers::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamMembers::Table, TeamMembers::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_team_members_team_user",
                    TeamMembers::Table,
                    &["team_id", "user_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_team_members_user",
                TeamMembers::Table,
                &["user_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Businesses::Table)
                    .col(string_len(Businesses::Id, 36).primary_key())
                    .col(string_len(Businesses::TeamId, 36))
                    .col(string_len(Businesses::Name, 200))
                    .col(string_len(Businesses::CreatedById, 36))
                    .col(timestamp_with_time_zone(Businesses::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Businesses::Table, Businesses::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_businesses_team",
                Businesses::Table,
                &["team_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Leads::Table)
                    .col(string_len(Leads::Id, 36).primary_key())
                    .col(string_len(Leads::TeamId, 36))
                    .col(string_len_null(Leads::BusinessId, 36))
                    .col(string_len(Leads::Name, 200))
                    .col(string_len(Leads::CreatedById, 36))
                    .col(timestamp_with_time_zone(Leads::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Leads::Table, Leads::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Leads::Table, Leads::BusinessId)
                            .to(Businesses::Table, Businesses::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_leads_team", Leads::Table, &["team_id", "id"]))
            .await?;
        manager
            .create_index(index("idx_leads_business", Leads::Table, &["business_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BusinessComments::Table)
                    .col(string_len(BusinessComments::Id, 36).primary_key())
                    .col(string_len(BusinessComments::BusinessId, 36))
                    .col(string_len(BusinessComments::AuthorId, 36))
                    .col(string_len_null(BusinessComments::OnBehalfOfId, 36))
                    .col(text(BusinessComments::Text))
                    .col(boolean(BusinessComments::IsImpersonated).default(false))
                    .col(timestamp_with_time_zone(BusinessComments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BusinessComments::Table, BusinessComments::BusinessId)
                            .to(Businesses::Table, Businesses::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BusinessComments::Table, BusinessComments::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_business_comments_business",
                BusinessComments::Table,
                &["business_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LeadComments::Table)
                    .col(string_len(LeadComments::Id, 36).primary_key())
                    .col(string_len(LeadComments::LeadId, 36))
                    .col(string_len(LeadComments::AuthorId, 36))
                    .col(string_len_null(LeadComments::OnBehalfOfId, 36))
                    .col(text(LeadComments::Text))
                    .col(boolean(LeadComments::IsImpersonated).default(false))
                    .col(timestamp_with_time_zone(LeadComments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadComments::Table, LeadComments::LeadId)
                            .to(Leads::Table, Leads::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadComments::Table, LeadComments::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_lead_comments_lead",
                LeadComments::Table,
                &["lead_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(string_len(AuditLogs::Id, 36).primary_key())
                    .col(string_len_null(AuditLogs::ActorId, 36))
                    .col(string_len_null(AuditLogs::OnBehalfOfId, 36))
                    .col(string_len_null(AuditLogs::TeamId, 36))
                    .col(string_len(AuditLogs::Action, 64))
                    .col(string_len_null(AuditLogs::EntityType, 64))
                    .col(string_len_null(AuditLogs::EntityId, 64))
                    .col(boolean(AuditLogs::IsImpersonated).default(false))
                    .col(text_null(AuditLogs::Details))
                    .col(string_len_null(AuditLogs::IpAddress, 64))
                    .col(timestamp_with_time_zone(AuditLogs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_logs_team",
                AuditLogs::Table,
                &["team_id", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_audit_logs_actor",
                AuditLogs::Table,
                &["actor_id", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_audit_logs_action",
                AuditLogs::Table,
                &["action", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_audit_logs_on_behalf",
                AuditLogs::Table,
                &["on_behalf_of_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Impersonations::Table)
                    .col(string_len(Impersonations::Id, 36).primary_key())
                    .col(string_len(Impersonations::Code, 64))
                    .col(string_len(Impersonations::ImpersonatorId, 36))
                    .col(string_len(Impersonations::ImpersonatedUserId, 36))
                    .col(string_len_null(Impersonations::ImpersonatorTeamId, 36))
                    .col(timestamp_with_time_zone(Impersonations::StartedAt))
                    .col(timestamp_with_time_zone(Impersonations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Impersonations::EndedAt))
                    .col(string_len_null(Impersonations::Reason, 500))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Impersonations::Table, Impersonations::ImpersonatorId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Impersonations::Table, Impersonations::ImpersonatedUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("uq_impersonations_code", Impersonations::Table, &["code"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_impersonations_impersonator",
                Impersonations::Table,
                &["impersonator_id", "started_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_impersonations_active",
                Impersonations::Table,
                &["ended_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string_len(RefreshTokens::Id, 36).primary_key())
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(string_len(RefreshTokens::FamilyId, 36))
                    .col(string_len(RefreshTokens::UserId, 36))
                    .col(string_len_null(RefreshTokens::TeamId, 36))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_refresh_tokens_family",
                RefreshTokens::Table,
                &["family_id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_refresh_tokens_user",
                RefreshTokens::Table,
                &["user_id"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            RefreshTokens::Table.into_iden(),
            Impersonations::Table.into_iden(),
            AuditLogs::Table.into_iden(),
            LeadComments::Table.into_iden(),
            BusinessComments::Table.into_iden(),
            Leads::Table.into_iden(),
            Businesses::Table.into_iden(),
            TeamMembers::Table.into_iden(),
            Teams::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
