from django.urls import path

from chat.classes import views

app_name = "classes"

urlpatterns = [
    path("classes/", views.class_list, name="list"),
    path("classes/new/", views.class_create, name="create"),
    path("classes/join/", views.class_join, name="join"),
    path("join/<str:code>/", views.join_link, name="join_link"),
    path("classes/<str:classroom_id>/", views.class_detail, name="detail"),
    path("classes/<str:classroom_id>/edit/", views.class_edit, name="edit"),
    path("classes/<str:classroom_id>/code/", views.regenerate_code, name="regenerate_code"),
    path("classes/<str:classroom_id>/tutors/", views.tutor_add, name="tutor_add"),
    path("classes/<str:classroom_id>/members/<str:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("classes/<str:classroom_id>/publish/", views.assistant_publish, name="publish"),
    path("classes/<str:classroom_id>/unpublish/", views.assistant_unpublish, name="unpublish"),
    path("classes/<str:classroom_id>/limits/", views.class_limits, name="limits"),
    path("classes/<str:classroom_id>/gradebook/", views.gradebook_page, name="gradebook"),
    path("classes/<str:classroom_id>/gradebook.csv", views.gradebook_csv, name="gradebook_csv"),
    path("classes/<str:classroom_id>/attempts/<str:attempt_id>/", views.attempt_detail, name="attempt"),
    path("classes/<str:classroom_id>/archive/", views.class_archive, name="archive"),
    path("classes/<str:classroom_id>/leave/", views.class_leave, name="leave"),
    path("classes/<str:classroom_id>/start/", views.conversation_start, name="start"),
]
