from django.urls import path

from chat.classes import views

app_name = "classes"

urlpatterns = [
    path("classes/", views.class_list, name="list"),
    path("classes/new/", views.class_create, name="create"),
    path("classes/join/", views.class_join, name="join"),
    path("join/<id:code>/", views.join_link, name="join_link"),
    path("classes/<int:classroom_id>/", views.class_detail, name="detail"),
    path("classes/<int:classroom_id>/edit/", views.class_edit, name="edit"),
    path("classes/<int:classroom_id>/code/", views.regenerate_code, name="regenerate_code"),
    path("classes/<int:classroom_id>/tutors/", views.tutor_add, name="tutor_add"),
    path("classes/<int:classroom_id>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("classes/<int:classroom_id>/publish/", views.assistant_publish, name="publish"),
    path("classes/<int:classroom_id>/unpublish/", views.assistant_unpublish, name="unpublish"),
    path("classes/<int:classroom_id>/limits/", views.class_limits, name="limits"),
    path("classes/<int:classroom_id>/gradebook/", views.gradebook_page, name="gradebook"),
    path("classes/<int:classroom_id>/gradebook.csv", views.gradebook_csv, name="gradebook_csv"),
    path("classes/<int:classroom_id>/attempts/<int:attempt_id>/", views.attempt_detail, name="attempt"),
    path("classes/<int:classroom_id>/students/<int:user_id>/", views.student_detail, name="student"),
    path("classes/<int:classroom_id>/grades/", views.my_grades, name="my_grades"),
    path("classes/<int:classroom_id>/archive/", views.class_archive, name="archive"),
    path("classes/<int:classroom_id>/leave/", views.class_leave, name="leave"),
    path("classes/<int:classroom_id>/start/", views.conversation_start, name="start"),
]
