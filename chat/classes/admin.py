from django.contrib import admin

from chat.admin import assistant_label
from chat.classes.models import Classroom, ClassThread, Membership, Publication, QuizGrade


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "joined_at"]
    readonly_fields = ["joined_at"]


class PublicationInline(admin.TabularInline):
    model = Publication
    extra = 0
    raw_id_fields = ["assistant"]
    fields = ["assistant", "owner", "published_at"]
    readonly_fields = ["owner", "published_at"]

    @admin.display(description="assistant's owner")
    def owner(self, obj):
        return obj.assistant.owner if obj.pk else "—"


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ["name", "join_code", "tutors", "students", "runs_per_day", "tokens_per_day", "archived", "created_at"]
    list_filter = ["archived", "created_at"]
    search_fields = ["name", "join_code", "memberships__user__username"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline, PublicationInline]

    @admin.display(description="tutors")
    def tutors(self, obj):
        return ", ".join(m.user.get_username() for m in obj.memberships.filter(role=Membership.Role.TUTOR).select_related("user"))

    @admin.display(description="students")
    def students(self, obj):
        return obj.memberships.filter(role=Membership.Role.STUDENT).count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "classroom", "role", "joined_at"]
    list_filter = ["role", "classroom__archived", "classroom"]
    search_fields = ["user__username", "classroom__name"]
    list_select_related = ["user", "classroom"]
    raw_id_fields = ["user"]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["assistant_with_owner", "classroom", "published_at"]
    list_filter = ["classroom", "assistant__owner"]
    search_fields = ["assistant__name", "assistant__owner__username", "classroom__name"]
    list_select_related = ["assistant__owner", "classroom"]

    @admin.display(description="assistant", ordering="assistant__name")
    def assistant_with_owner(self, obj):
        return assistant_label(obj.assistant)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "assistant":
            field.queryset = field.queryset.select_related("owner")
            field.label_from_instance = assistant_label
        return field


@admin.register(ClassThread)
class ClassThreadAdmin(admin.ModelAdmin):
    list_display = ["thread", "student", "classroom"]
    list_filter = ["classroom"]
    search_fields = ["thread__id", "thread__owner__username", "classroom__name"]
    list_select_related = ["thread__owner", "classroom"]
    raw_id_fields = ["thread"]

    @admin.display(description="student", ordering="thread__owner__username")
    def student(self, obj):
        return obj.thread.owner


@admin.register(QuizGrade)
class QuizGradeAdmin(admin.ModelAdmin):
    list_display = ["quiz", "student", "classroom", "model_score", "override_score", "graded_by", "updated_at"]
    list_filter = ["classroom"]
    search_fields = ["attempt__title", "attempt__user__username", "classroom__name"]
    list_select_related = ["attempt__user", "classroom", "graded_by"]
    raw_id_fields = ["attempt", "graded_by"]

    @admin.display(description="quiz", ordering="attempt__title")
    def quiz(self, obj):
        return obj.attempt.title

    @admin.display(description="student", ordering="attempt__user__username")
    def student(self, obj):
        return obj.attempt.user

    @admin.display(description="model's score")
    def model_score(self, obj):
        return obj.attempt.score_label
