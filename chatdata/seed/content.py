"""What the demo data says: names, titles, message bodies in several languages, attachment files.

Everything here is a fixed pool; the generator picks from it with its seeded random generator, so
the same seed always yields the same text. Bodies are short phrases joined one or two at a time, the
way chat messages look. "meeting" is deliberately common in the English pool: the browse benchmark
searches for it.
"""

import functools
import struct
import zlib

FIRST_NAMES = {
    "en": ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isla", "Jack", "Kate", "Liam", "Mia", "Noah", "Olivia", "Peter", "Ruby", "Sam"],
    "zh": ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明"],
    "es": ["Sofía", "Mateo", "Lucía", "Santiago", "Valentina", "Diego", "Camila", "Javier"],
    "de": ["Jörg", "Lena", "Lukas", "Anna", "Jürgen", "Sophie", "Maximilian", "Greta"],
    "ja": ["Yuki", "Haruto", "Sakura", "Ren", "Aoi", "Sota", "Hina", "Kaito"],
    "ru": ["Олег", "Анна", "Дмитрий", "Мария", "Иван", "Екатерина", "Сергей", "Ольга"],
    "fr": ["Chloé", "Louis", "Léa", "Hugo", "Manon", "Jules", "Inès", "Théo"],
    "pt": ["João", "Ana", "Pedro", "Beatriz", "Rafael", "Mariana", "Tiago", "Inês"],
    "ar": ["أحمد", "فاطمة", "محمد", "ليلى", "عمر", "نور"],
}
LAST_NAMES = {
    "en": ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Walker", "Wright", "Green", "Hall", "Clarke", "Baker"],
    "zh": ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"],
    "es": ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker"],
    "ja": ["Tanaka", "Suzuki", "Takahashi", "Watanabe", "Ito", "Yamamoto"],
    "ru": ["Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева"],
    "fr": ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre"],
    "pt": ["Silva", "Santos", "Oliveira", "Souza", "Costa", "Ferreira"],
    "ar": ["الحسن", "العلي", "حداد", "منصور", "خليل"],
}

# Language of a user or conversation, with its share of the demo population.
LANGUAGES = ["en", "zh", "es", "de", "ja", "ru", "fr", "pt", "ar"]
LANGUAGE_WEIGHTS = [38, 22, 9, 7, 7, 6, 5, 4, 2]

PHRASES = {
    "en": [
        "Are we still on for the meeting tomorrow?", "Running ten minutes late, sorry!", "Sounds good to me.",
        "Can you send me the slides after the meeting?", "Lunch at noon?", "I pushed the fix, please review.",
        "The meeting moved to 3pm.", "Thanks, that helps a lot.", "Who is taking notes at the meeting?",
        "Happy birthday!", "Let me check and get back to you.", "Did anyone see the game last night?",
        "I'll be offline this afternoon.", "The build is green again.", "Can we reschedule the meeting to Friday?",
        "Great work everyone.", "Where should we meet?", "See you at the meeting.", "On my way.",
        "Please don't share this outside the team.", "Call me when you're free.", "The invoice is attached.",
        "ok", "lol", "Good morning!", "Good night, talk tomorrow.", "I agree with Carol.", "Any updates?",
    ],
    "zh": [
        "明天的会议还开吗？", "我到了，你在哪儿？", "好的，没问题。", "今天加班，晚点回家。", "谢谢你的帮助！",
        "周末一起去爬山吧。", "文件已经发给你了。", "这个方案我觉得可以。", "晚饭吃什么？", "会议改到下午三点了。",
        "收到。", "辛苦了！", "路上堵车，稍等一下。", "生日快乐！", "我们下周再讨论吧。", "哈哈哈", "早上好！",
    ],
    "es": [
        "¿Nos vemos mañana en la reunión?", "Llego tarde, lo siento.", "¡Perfecto, gracias!", "¿Quién trae la comida?",
        "Ya envié el documento.", "Buenas noches a todos.", "¡Feliz cumpleaños!", "Hablamos luego.", "¿Dónde estás?",
    ],
    "de": [
        "Treffen wir uns morgen zum Meeting?", "Bin gleich da.", "Danke, das hilft mir sehr.", "Schönes Wochenende!",
        "Kannst du mir die Datei schicken?", "Das Meeting ist verschoben.", "Alles Gute zum Geburtstag!", "Gute Nacht.",
    ],
    "ja": [
        "明日の会議は何時からですか？", "了解しました！", "ありがとうございます。", "少し遅れます、すみません。",
        "お疲れさまです。", "資料を送りました。", "また明日！", "おはようございます。", "いいですね！",
    ],
    "ru": [
        "Завтра встреча в силе?", "Я уже на месте.", "Спасибо большое!", "Скинь, пожалуйста, файл.",
        "С днём рождения!", "Созвонимся вечером.", "Хорошо, договорились.", "Доброе утро!",
    ],
    "fr": [
        "On se voit demain à la réunion ?", "J'arrive dans cinq minutes.", "Merci beaucoup !", "Bonne soirée à tous.",
        "Tu peux m'envoyer le fichier ?", "Joyeux anniversaire !", "D'accord, ça marche.", "Bonjour tout le monde !",
    ],
    "pt": [
        "Vamos nos ver amanhã na reunião?", "Já estou chegando.", "Muito obrigado!", "Bom dia, pessoal!",
        "Pode me mandar o arquivo?", "Feliz aniversário!", "Combinado.", "Boa noite!",
    ],
    "ar": ["هل الاجتماع غدا؟", "شكرا جزيلا!", "أنا في الطريق.", "صباح الخير!", "تمام، اتفقنا.", "عيد ميلاد سعيد!"],
}

EMOJI = ["👍", "😂", "❤️", "🎉", "🙏", "🔥", "😅", "👀", "✅", "😢", "🤔", "🚀", "☕", "🍕", "🥳", "👋"]
REACTION_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "🔥", "👀", "✅"]

GROUP_TITLES = [
    "Project Falcon", "家庭群", "Fútbol los domingos", "Book club 📚", "Release crew", "同学会", "Hiking buddies 🥾",
    "Design reviews", "Marketing", "Kita Eltern", "週末ゲーム部", "Support escalations", "Apartment 4B", "Team lunch 🍜",
    "Волейбол", "Les copains", "Turma da faculdade", "Band practice 🎸", "Product launch", "Parents of 3rd grade",
]
ROOM_TITLES = [
    "Lobby", "Live: product keynote", "大厅聊天室", "Gaming night 🎮", "Music lounge", "Sala de fans", "Trading floor",
    "Ask me anything", "News & rumours", "Study room 📖",
]
HUGE_GROUP_TITLES = ["All hands", "全员群", "Community members"]
HUGE_ROOM_TITLES = ["World Cup live ⚽", "Launch day live 🚀"]

SYSTEM_NOTICES = [
    ("login", "New sign-in from a Chrome browser on Windows."),
    ("login", "新设备登录提醒：iPhone 15。"),
    ("password", "Your password was changed. If this wasn't you, contact support."),
    ("welcome", "Welcome to the app! 🎉 Say hi to your contacts."),
    ("policy", "We updated our terms of service."),
    ("storage", "Your cloud storage is 90% full."),
    ("security", "安全提醒：请勿向他人透露验证码。"),
]

FILE_STEMS = ["notes", "invoice", "agenda", "report", "会议纪要", "Protokoll", "minutes", "receipt"]


# Few enough combinations that each image is encoded once (png_bytes is cached).
PNG_SIDES = (12, 16, 24, 32, 48)
PNG_COLOURS = ((220, 60, 60), (60, 140, 220), (60, 180, 90), (240, 180, 40), (150, 80, 200), (40, 40, 40), (250, 120, 170))


@functools.cache
def png_bytes(width, height, rgb):
    """A real, valid PNG: a vertical gradient from `rgb` to white."""
    r, g, b = rgb
    rows = []
    for y in range(height):
        f = y / max(1, height - 1)
        pixel = bytes((int(r + (255 - r) * f), int(g + (255 - g) * f), int(b + (255 - b) * f)))
        rows.append(b"\x00" + pixel * width)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b"")
