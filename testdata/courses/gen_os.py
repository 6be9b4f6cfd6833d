import json
C = {"code": "SO", "name": "Sistemi Operativi", "language": "it"}
# (id, kind, topic, core_loop, text); kind: exercise | fragment | invalid
items = [
("so-2306-h1","invalid",None,None,"Sistemi Operativi — Appello del 21 giugno 2023\nCognome: ______________ Nome: ______________ Matricola: __________"),
("so-2306-h2","invalid",None,None,"Istruzioni. La prova dura 2 ore. Non è consentito consultare libri, appunti o dispositivi elettronici. Rispondere a ogni esercizio su un foglio separato e motivare tutte le risposte."),
("so-2306-1","exercise","scheduling","sched-wait","Esercizio 1 (8 punti). Si considerino i seguenti processi, con il relativo tempo di arrivo e la durata del CPU burst (in ms):\nP1: arrivo 0, burst 8\nP2: arrivo 1, burst 4\nP3: arrivo 2, burst 9\nP4: arrivo 3, burst 5\na) Si disegni il diagramma di Gantt per gli algoritmi di scheduling FCFS, SJF preemptive (SRTF) e Round Robin con quanto di 3 ms.\nb) Si calcoli il tempo di attesa medio e il tempo di turnaround medio per ciascun algoritmo."),
("so-2306-1c","fragment",None,None,"c) Quale dei tre algoritmi minimizza il tempo di attesa medio? Si motivi la risposta facendo riferimento alle proprietà di SJF."),
("so-2306-2","exercise","paging","paging-faults","Esercizio 2 (7 punti). Un sistema con memoria virtuale paginata dispone di 3 frame fisici, inizialmente vuoti. Data la stringa di riferimenti alle pagine 7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, si calcoli il numero di page fault con gli algoritmi di sostituzione FIFO, LRU e ottimo (OPT), mostrando lo stato dei frame dopo ogni riferimento."),
("so-2306-3","exercise","sync","sync-semaphores","Esercizio 3 (8 punti). Si risolva il problema del produttore-consumatore con buffer limitato di N posizioni usando i semafori. Si scriva lo pseudocodice delle procedure produttore() e consumatore(), indicando il valore iniziale di ciascun semaforo, e si spieghi perché la soluzione evita la race condition sul buffer."),
("so-2306-p1","invalid",None,None,"Pagina 1 di 2"),
("so-2306-4","exercise","deadlock","deadlock-banker","Esercizio 4 (7 punti). Un sistema ha 5 processi P0–P4 e tre tipi di risorse A, B, C con 10, 5 e 7 istanze. Le matrici Allocation e Max sono:\nP0: Allocation 0 1 0, Max 7 5 3\nP1: Allocation 2 0 0, Max 3 2 2\nP2: Allocation 3 0 2, Max 9 0 2\nP3: Allocation 2 1 1, Max 2 2 2\nP4: Allocation 0 0 2, Max 4 3 3\nSi calcoli la matrice Need e si verifichi con l'algoritmo del banchiere se lo stato è sicuro, indicando una sequenza sicura.\nSistemi Operativi — Appello del 21 giugno 2023 — pagina 2"),
("so-2306-4b","fragment",None,None,"Con riferimento allo stato precedente, il processo P1 richiede (1, 0, 2). Si stabilisca se la richiesta può essere soddisfatta immediatamente."),

("so-2307-h1","invalid",None,None,"Sistemi Operativi — Appello del 12 luglio 2023\nCognome: ______________ Nome: ______________ Matricola: __________"),
("so-2307-1","exercise","scheduling","sched-wait","Esercizio 1. Cinque processi arrivano al sistema negli istanti indicati e richiedono i seguenti tempi di CPU: A (0, 6), B (2, 2), C (4, 7), D (5, 3), E (8, 4). Si disegni il diagramma di Gantt con scheduling Round Robin, quanto di tempo pari a 2, e con scheduling a priorità non preemptive (priorità: A=3, B=1, C=4, D=2, E=5; numero minore = priorità maggiore). Si calcolino per entrambi il tempo di attesa medio e il tempo di risposta medio."),
("so-2307-2","exercise","paging","paging-translate","Esercizio 2. Un sistema usa la paginazione con pagine da 4 KB, indirizzi logici a 32 bit e una tabella delle pagine a un livello. Si determini quanti bit dell'indirizzo logico indicano il numero di pagina e quanti l'offset, e si traduca l'indirizzo logico 0x00403A7C in indirizzo fisico sapendo che la pagina 0x403 è caricata nel frame 0x1F2."),
("so-2307-2b","fragment",None,None,"b) Si calcoli la dimensione della tabella delle pagine, assumendo voci da 4 byte, e si spieghi come una tabella delle pagine a due livelli riduca la memoria occupata."),
("so-2307-3","exercise","deadlock","deadlock-banker","Esercizio 3. Si elenchino le quattro condizioni necessarie perché si verifichi un deadlock. Si consideri poi un sistema con 4 processi e 12 istanze di un'unica risorsa; i processi hanno Max = (8, 4, 6, 3) e Allocation = (3, 1, 4, 1). Si verifichi con l'algoritmo del banchiere se lo stato è sicuro."),
("so-2307-4","exercise","filesystem","fs-maxsize","Esercizio 4. Un file system di tipo Unix usa i-node con 12 puntatori diretti, un puntatore indiretto singolo, uno doppio e uno triplo. I blocchi sono da 4 KB e gli indirizzi dei blocchi da 4 byte. Si calcoli la dimensione massima di un file e il numero di accessi al disco necessari per leggere il byte in posizione 10.000.000, supponendo che l'i-node sia già in memoria."),
("so-2307-f","invalid",None,None,"- 2 -"),
("so-2307-5","exercise","sync","sync-semaphores","Esercizio 5. Si scriva una soluzione al problema dei lettori e scrittori con i semafori, che dia precedenza ai lettori. Si indichi il valore iniziale dei semafori e si discuta se la soluzione può causare starvation degli scrittori."),

("so-2309-h1","invalid",None,None,"Sistemi Operativi — Appello del 14 settembre 2023. Tempo a disposizione: 2 ore. Non sono ammessi appunti. Buon lavoro!"),
("so-2309-1","exercise","scheduling","sched-wait","Esercizio 1. Quattro processi con tempi di arrivo 0, 1, 3, 4 e CPU burst 5, 3, 6, 2 ms vengono eseguiti con scheduling SJF non preemptive e con Round Robin (quanto 2 ms).\n1. Si disegni il diagramma di Gantt per ciascun algoritmo.\n2. Si calcoli il tempo di attesa medio e il tempo di completamento di ogni processo."),
("so-2309-1b","fragment",None,None,"3. Si ripeta il calcolo del tempo di attesa medio con un quanto di 4 ms e si commenti l'effetto della durata del quanto sulle prestazioni."),
("so-2309-2","exercise","paging","paging-faults","Esercizio 2. Si consideri la stringa di riferimenti 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5. Si calcoli il numero di page fault con l'algoritmo FIFO disponendo di 3 frame e poi di 4 frame, e si spieghi l'anomalia di Belady che si osserva. Si calcoli poi il numero di page fault con LRU e 3 frame."),
("so-2309-3","exercise","filesystem","fs-alloc","Esercizio 3. Si confrontino l'allocazione contigua, l'allocazione concatenata (con FAT) e l'allocazione indicizzata dei file su disco. Per un disco da 64 GB con blocchi da 2 KB, si calcoli lo spazio occupato dalla FAT se ogni voce è di 4 byte."),
("so-2309-3b","fragment",None,None,"e si indichi quante letture del disco servono, nei tre schemi di allocazione, per accedere al blocco 100 di un file."),
("so-2309-4","exercise","sync","sync-monitor","Esercizio 4. Cinque filosofi siedono attorno a un tavolo rotondo (problema dei filosofi a cena). Si scriva una soluzione con un monitor che eviti il deadlock, con le procedure prendi_forchette(i) e posa_forchette(i), e si spieghi perché la soluzione non può andare in deadlock."),
("so-2309-5","exercise","filesystem","fs-maxsize","Esercizio 5. Un i-node contiene 10 puntatori diretti e un puntatore indiretto singolo e uno doppio; i blocchi sono da 1 KB e gli indirizzi da 4 byte. Si calcoli la dimensione massima di un file e quanti blocchi indice servono per un file di 300 KB."),
("so-2309-f","invalid",None,None,"Pagina 2 di 2"),
]
cf = {"course": C, "exercises": []}
labels = {"course": "so-it", "split": "train", "items": []}
pos = 0
for id_, kind, topic, loop, text in items:
    cf["exercises"].append({"id": id_, "number": "", "text": text, "source": id_[:7] + ".pdf", "page": 1})
    l = {"id": id_, "kind": kind}
    if topic: l["topic"] = topic
    if loop: l["core_loop"] = loop
    labels["items"].append(l)
json.dump(cf, open("so-it.json", "w"), ensure_ascii=False, indent=1)
json.dump(labels, open("so-it.labels.json", "w"), ensure_ascii=False, indent=1)
