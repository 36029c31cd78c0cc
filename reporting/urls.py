"""Public survey pages; the lead mounts them with path("s/", include("reporting.urls"))."""

from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("<str:token>/", views.survey_page, name="survey"),
    path("<str:token>/thanks/", views.survey_thanks, name="survey_thanks"),
    path("<str:token>/opt-out/", views.survey_opt_out_page, name="survey_opt_out"),
]
