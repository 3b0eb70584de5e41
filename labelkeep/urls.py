"""URL map. API routes answer with and without a trailing slash (no redirects)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, path

from labelkeep.accounts import api, audit_api, org_views, session_api, views, workspaces_api
from labelkeep.api.schema import SchemaView
from labelkeep.dataio import export_urls, import_urls
from labelkeep.jobs import api as jobs_api
from labelkeep.projects import api as projects_api
from labelkeep.tasks import api as tasks_api
from labelkeep.tasks import drafts_api, saved_views_api
from labelkeep.web import views as web_views


def both(route: str, view: Callable[..., HttpResponseBase], name: str = "") -> list[URLPattern]:
    """The route with and without its trailing slash: the SDK mixes both spellings."""
    bare = route.rstrip("/")
    first = path(bare, view, name=name) if name else path(bare, view)
    return [first, path(bare + "/", view)]


urlpatterns: list[URLPattern] = [
    *both("api/version", api.VersionView.as_view(), "api-version"),
    *both("api/current-user/whoami", api.WhoAmIView.as_view(), "api-whoami"),
    *both("api/current-user", api.WhoAmIView.as_view()),
    *both("api/current-user/token", api.TokenView.as_view(), "api-token-get"),
    *both("api/current-user/reset-token", api.ResetTokenView.as_view(), "api-token-reset"),
    *both("api/token", api.PersonalTokensView.as_view(), "api-pats"),
    *both("api/token/refresh", api.RefreshView.as_view(), "api-pat-refresh"),
    *both("api/token/rotate", api.RotateView.as_view(), "api-pat-rotate"),
    *both("api/token/blacklist", api.BlacklistView.as_view(), "api-pat-blacklist"),
    *both("api/jwt/settings", api.TokenSettingsView.as_view(), "api-jwt-settings"),
    *both("api/users", api.UsersView.as_view(), "api-users"),
    *both("api/users/<int:pk>", api.UserDetailView.as_view(), "api-user"),
    *both("api/organizations", api.OrganizationsView.as_view(), "api-organizations"),
    *both("api/organizations/<int:pk>", api.OrganizationDetailView.as_view(), "api-organization"),
    *both(
        "api/organizations/<int:pk>/memberships", api.MembershipsView.as_view(), "api-memberships"
    ),
    *both(
        "api/organizations/<int:pk>/memberships/<int:user_pk>",
        api.MembershipDetailView.as_view(),
        "api-membership",
    ),
    *both("api/invite", api.InviteView.as_view(), "api-invite"),
    *both("api/invite/reset-token", api.InviteResetView.as_view(), "api-invite-reset"),
    *both("api/workspaces", workspaces_api.WorkspacesView.as_view(), "api-workspaces"),
    *both("api/workspaces/<int:pk>", workspaces_api.WorkspaceDetailView.as_view(), "api-workspace"),
    *both("api/audit-log", audit_api.AuditLogView.as_view(), "api-audit-log"),
    *both("api/auth/csrf", session_api.CsrfView.as_view(), "api-csrf"),
    *both("api/auth/login", session_api.LoginView.as_view(), "api-login"),
    *both("api/auth/logout", session_api.LogoutView.as_view(), "api-logout"),
    *both("api/jobs/<int:pk>", jobs_api.JobView.as_view(), "api-job"),
    *both("api/projects", projects_api.ProjectsView.as_view(), "api-projects"),
    *both("api/projects/counts", projects_api.ProjectCountsView.as_view(), "api-project-counts"),
    *both("api/projects/<int:pk>", projects_api.ProjectDetailView.as_view(), "api-project"),
    *both(
        "api/projects/<int:pk>/validate",
        projects_api.ValidateConfigView.as_view(),
        "api-project-validate",
    ),
    *both(
        "api/projects/<int:pk>/members",
        projects_api.ProjectMembersView.as_view(),
        "api-project-members",
    ),
    *both("api/projects/<int:pk>/tasks", tasks_api.ProjectTasksView.as_view(), "api-project-tasks"),
    *both("api/projects/<int:pk>/next", tasks_api.NextTaskView.as_view(), "api-project-next"),
    *both(
        "api/projects/<int:pk>/annotators",
        tasks_api.ProjectAnnotatorsView.as_view(),
        "api-project-annotators",
    ),
    *both(
        "api/projects/<int:pk>/import/predictions",
        tasks_api.ImportPredictionsView.as_view(),
        "api-import-predictions",
    ),
    *both("api/tasks", tasks_api.TasksView.as_view(), "api-tasks"),
    *both("api/tasks/<int:pk>", tasks_api.TaskDetailView.as_view(), "api-task"),
    *both(
        "api/tasks/<int:pk>/annotations",
        tasks_api.TaskAnnotationsView.as_view(),
        "api-task-annotations",
    ),
    *both("api/tasks/<int:pk>/drafts", drafts_api.TaskDraftsView.as_view(), "api-task-drafts"),
    *both(
        "api/tasks/<int:pk>/annotations/<int:annotation_pk>/drafts",
        drafts_api.TaskDraftsView.as_view(),
        "api-annotation-drafts",
    ),
    *both("api/drafts/<int:pk>", drafts_api.DraftDetailView.as_view(), "api-draft"),
    *both("api/annotations/<int:pk>", tasks_api.AnnotationDetailView.as_view(), "api-annotation"),
    *both(
        "api/annotations/bulk",
        tasks_api.AnnotationsBulkCreateView.as_view(),
        "api-annotations-bulk",
    ),
    *both(
        "api/annotations/bulk-delete",
        tasks_api.AnnotationsBulkDeleteView.as_view(),
        "api-annotations-bulk-delete",
    ),
    *both("api/predictions", tasks_api.PredictionsView.as_view(), "api-predictions"),
    *both("api/predictions/<int:pk>", tasks_api.PredictionDetailView.as_view(), "api-prediction"),
    *both("api/dm/actions", tasks_api.DataManagerActionView.as_view(), "api-dm-actions"),
    *both("api/dm/views", saved_views_api.SavedViewsView.as_view(), "api-views"),
    *both("api/dm/views/reset", saved_views_api.ResetViewsView.as_view(), "api-views-reset"),
    *both("api/dm/views/order", saved_views_api.ReorderViewsView.as_view(), "api-views-order"),
    *both("api/dm/views/<int:pk>", saved_views_api.SavedViewDetailView.as_view(), "api-view"),
    *import_urls.urlpatterns,
    *export_urls.urlpatterns,
    *both("api/schema", SchemaView.as_view(), "api-schema"),
    path("docs/api/", web_views.api_docs, name="api-docs"),
    path("user/login/", views.login_page, name="login"),
    path("user/logout/", views.logout_page, name="logout"),
    path("user/signup/", views.signup_page, name="signup"),
    path("user/account/", views.account_page, name="account"),
    path("organization/members/", org_views.members_page, name="members"),
    path("organization/audit/", org_views.audit_page, name="audit"),
    path("setup/<str:key>/", views.setup_page, name="setup"),
    path("", views.home_page, name="home"),
]

handler400 = "labelkeep.web.errors.bad_request"
handler403 = "labelkeep.web.errors.permission_denied"
handler404 = "labelkeep.web.errors.not_found"
handler500 = "labelkeep.web.errors.server_error"
