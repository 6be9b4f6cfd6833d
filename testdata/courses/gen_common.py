import json
def write(name, course, split, items):
    cf = {"course": course, "exercises": []}
    labels = {"course": name, "split": split, "items": []}
    for id_, kind, topic, loop, text in items:
        cf["exercises"].append({"id": id_, "number": "", "text": text, "source": id_.rsplit("-", 1)[0] + ".pdf", "page": 1})
        l = {"id": id_, "kind": kind}
        if topic: l["topic"] = topic
        if loop: l["core_loop"] = loop
        labels["items"].append(l)
    json.dump(cf, open(name + ".json", "w"), ensure_ascii=False, indent=1)
    json.dump(labels, open(name + ".labels.json", "w"), ensure_ascii=False, indent=1)
