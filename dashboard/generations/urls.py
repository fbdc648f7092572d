from django.urls import path

from dashboard.generations import views

app_name = "generations"
urlpatterns = [
    path("", views.generate, name="generate"),
    path("history/", views.history, name="history"),
    path("generations/<int:generation_id>/", views.detail, name="detail"),
    path("generations/<int:generation_id>/progress/", views.progress, name="progress"),
    path("generations/<int:generation_id>/cancel/", views.cancel, name="cancel"),
    path("generations/<int:generation_id>/retry/", views.retry, name="retry"),
    path("images/<int:image_id>/", views.image_file, name="image"),
    path("images/<int:image_id>/thumbnail/", views.image_thumbnail, name="thumbnail"),
]
