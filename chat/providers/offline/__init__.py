from chat.providers.offline.model import OfflineProvider, Reply, register_skill, tokenize

__all__ = ["OfflineProvider", "Reply", "register_skill", "tokenize"]
