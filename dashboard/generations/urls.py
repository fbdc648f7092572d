from django.urls import path

from dashboard.generations.views import curation, generate, history, images, presets

app_name = "generations"
urlpatterns = [
    path("", generate.generate, name="generate"),
    path("history/", history.history, name="history"),
    path("history/more/", history.history_more, name="history-more"),
    path("history/density/", history.gallery_density, name="density"),
    path("history/selection/", curation.selection_action, name="selection"),
    path("history/selection/zip/", curation.selection_zip, name="selection-zip"),
    path("tags/options/", history.tag_options, name="tag-options"),
    path("compare/", history.compare, name="compare"),
    path("generations/mine/active/", images.my_activity, name="my-activity"),
    path("generations/mine/cancel/", curation.cancel_mine, name="cancel-mine"),
    path("generations/<int:generation_id>/", generate.detail, name="detail"),
    path("generations/<int:generation_id>/progress/", generate.progress, name="progress"),
    path("generations/<int:generation_id>/cancel/", generate.cancel, name="cancel"),
    path("generations/<int:generation_id>/retry/", generate.retry, name="retry"),
    path("generations/<int:generation_id>/rerun/", generate.rerun, name="rerun"),
    path("generations/<int:generation_id>/star/", curation.star, name="star"),
    path("generations/<int:generation_id>/tags/", curation.tag_add, name="tag-add"),
    path("generations/<int:generation_id>/tags/remove/", curation.tag_remove, name="tag-remove"),
    path("generations/<int:generation_id>/delete/", curation.delete, name="delete"),
    path("presets/", presets.preset_list, name="presets"),
    path("presets/new/", presets.preset_create, name="preset-create"),
    path("presets/save/", presets.preset_save, name="preset-save"),
    path("presets/<int:preset_id>/edit/", presets.preset_edit, name="preset-edit"),
    path("presets/<int:preset_id>/delete/", presets.preset_delete, name="preset-delete"),
    path("images/<int:image_id>/", images.image_file, name="image"),
    path("images/<int:image_id>/thumbnail/", images.image_thumbnail, name="thumbnail"),
    path("images/<int:image_id>/panel/", images.image_panel, name="image-panel"),
]
