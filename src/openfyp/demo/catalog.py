"""The demo catalog: topics, creators, sounds and captions, all generated from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    hashtags: tuple[str, ...]
    captions: tuple[str, ...]
    pattern: str  # an openfyp.media.synth pattern
    hue: float  # degrees
    tone_hz: float


TOPICS: tuple[Topic, ...] = (
    Topic("cooking", ("cooking", "recipe", "foodtok", "pasta"), (
        "Five minute garlic noodles", "The crispiest potatoes you will ever make", "Grandma's secret tomato sauce",
        "One-pan lemon chicken", "Street tacos at home"), "mandelbrot", 29.0, 261.6),
    Topic("cats", ("cats", "catsoftiktok", "kitten", "pets"), (
        "He really thought he could make that jump", "Morning routine with Miso", "Cat vs cucumber, round two",
        "She only sits in boxes now", "The loaf has been achieved"), "life", 47.0, 293.7),
    Topic("football", ("football", "soccer", "goals", "skills"), (
        "Top bins from 30 yards", "Rainbow flick tutorial", "Sunday league chaos", "Keepy-uppy record attempt",
        "Best free kicks this week"), "testsrc2", 119.0, 329.6),
    Topic("dance", ("dance", "choreo", "dancechallenge", "moves"), (
        "Learn this in 30 seconds", "Our studio's new routine", "Trying the viral challenge",
        "Freestyle in the rain", "Slow-motion breakdown"), "cellauto", 299.0, 349.2),
    Topic("travel", ("travel", "wanderlust", "hiddengems", "roadtrip"), (
        "A village nobody talks about", "48 hours in the mountains", "Night train diaries",
        "Cheapest island to visit", "Sunrise from the ridge"), "gradients", 198.0, 392.0),
    Topic("gaming", ("gaming", "speedrun", "indiegames", "gamer"), (
        "Frame-perfect skip explained", "This boss took 40 tries", "Cozy game of the week",
        "Clutch round with one hp", "Modding the classic"), "rgbtestsrc", 259.0, 440.0),
    Topic("fitness", ("fitness", "workout", "gymtok", "mobility"), (
        "Ten minute core finisher", "Fix your squat depth", "No-equipment leg day",
        "Stretch routine for desk workers", "Day 30 of calisthenics"), "smptebars", 0.0, 493.9),
    Topic("science", ("science", "physics", "learnontiktok", "experiment"), (
        "Why the sky is blue, in one minute", "Non-newtonian fluid test", "How magnets actually work",
        "The Fibonacci spiral in sunflowers", "Building a cloud chamber"), "plasma", 223.0, 523.3),
    Topic("music", ("music", "guitar", "pianotok", "cover"), (
        "Acoustic cover, one take", "This chord progression is everywhere", "Beat from kitchen sounds",
        "Learning piano day 100", "Harmonies with my sister"), "mandelbrot", 324.0, 587.3),
    Topic("comedy", ("comedy", "skit", "relatable", "funny"), (
        "Every group chat ever", "When the wifi drops mid-call", "POV: first day at a new job",
        "My mum texting", "The meeting that could have been an email"), "testsrc2", 61.0, 659.3),
    Topic("fashion", ("fashion", "ootd", "thrift", "style"), (
        "Thrift flip: jeans to skirt", "Five ways to wear one scarf", "Capsule wardrobe for autumn",
        "Styling vintage finds", "Get ready with me"), "gradients", 342.0, 698.5),
    Topic("diy", ("diy", "woodworking", "crafts", "homeimprovement"), (
        "Building a shelf from pallets", "Epoxy table pour", "Repairing a 50-year-old chair",
        "Tiny home storage hacks", "Hand-carving a spoon"), "life", 151.0, 784.0),
)

FIRST_NAMES = ("ana", "ben", "chloe", "dev", "emma", "felix", "gia", "hugo", "ines", "jay", "kira", "leo", "maya",
               "nico", "olga", "pablo", "quinn", "rosa", "sami", "tara", "umar", "vera", "wes", "xia", "yuki", "zoe")


@dataclass(frozen=True)
class DemoCreator:
    username: str
    display_name: str
    main_topic: int
    side_topic: int
    quality: float  # hidden: how engaging this creator's clips are, in logit units


@dataclass(frozen=True)
class DemoClip:
    creator: int
    topic: int
    caption: str
    seconds: float
    sound_slot: int  # which of the topic's shared sounds this clip uses
    quality: float  # hidden, in logit units
    seed: int


@dataclass(frozen=True)
class DemoCatalog:
    creators: tuple[DemoCreator, ...]
    clips: tuple[DemoClip, ...]
    sounds_per_topic: int


def build_catalog(seed: int = 7, n_creators: int = 50, n_clips: int = 300, sounds_per_topic: int = 3) -> DemoCatalog:
    rng = random.Random(seed)
    creators = []
    for i in range(n_creators):
        main = i % len(TOPICS)
        side = rng.randrange(len(TOPICS))
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]}_{TOPICS[main].name}{i // len(FIRST_NAMES) or ''}"
        creators.append(DemoCreator(
            username=name, display_name=f"{FIRST_NAMES[i % len(FIRST_NAMES)].title()} · {TOPICS[main].name}",
            main_topic=main, side_topic=side, quality=rng.gauss(0.0, 0.5)))
    clips = []
    for j in range(n_clips):
        creator_index = j % n_creators
        creator = creators[creator_index]
        topic = creator.main_topic if rng.random() < 0.8 else creator.side_topic
        spec = TOPICS[topic]
        tags = rng.sample(spec.hashtags, k=rng.randint(2, 3))
        caption = f"{rng.choice(spec.captions)} " + " ".join(f"#{t}" for t in tags)
        # Short clips dominate, as on every short-video platform.
        seconds = round(min(30.0, max(3.0, rng.lognormvariate(2.2, 0.5))), 1)
        clips.append(DemoClip(creator=creator_index, topic=topic, caption=caption, seconds=seconds,
                              sound_slot=rng.randrange(sounds_per_topic),
                              quality=creator.quality + rng.gauss(0.0, 0.4), seed=rng.randrange(1 << 30)))
    return DemoCatalog(creators=tuple(creators), clips=tuple(clips), sounds_per_topic=sounds_per_topic)
