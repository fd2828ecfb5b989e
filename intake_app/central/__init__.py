"""The central office: key set-up, device registry, HTTP receiver, importer and exports.

Plain Python without Qt. The receiver (:mod:`.receiver`) stores sealed batches and signs
receipts but never holds a decryption key; the importer (:mod:`.importer`) opens batches
with the office private key and loads them into the central database (:mod:`.db`).
"""
