from django.urls import path

from statuspage import views

app_name = "statuspage"

urlpatterns = [
    path("", views.home, name="home"),
    path("incidents/<int:pk>/", views.incident, name="incident"),
    path("history/", views.history, name="history"),
    path("history/<int:year>/<int:month>/", views.history_month, name="history_month"),
    path("feed.atom", views.feed, name="feed"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
