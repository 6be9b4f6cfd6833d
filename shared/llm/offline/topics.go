package offline

// This file holds the keyword tables of the heuristic. Every keyword is written in the
// normalized form produced by normalize (lower case, no accents, punctuation turned
// into single spaces); a trailing "*" makes it a word-prefix match. A test checks that
// every keyword is already normalized, so a typo cannot silently never match.

// keyword is one piece of evidence for a topic.
type keyword struct {
	text   string
	weight int
}

// localized is a text in English and Italian.
type localized struct {
	en, it string
}

func (l localized) in(lang string) string {
	if lang == "it" {
		return l.it
	}
	return l.en
}

// topic is one entry of the topic table: its names, its core loop and procedure in
// both languages, and the weighted keywords that point to it.
type topic struct {
	key       string
	name      localized
	coreLoop  localized
	procedure []localized
	keywords  []keyword
}

// strongScore is the score at which a topic is considered clearly present; below it the
// evidence is weak (low confidence, and a fragment inherits its previous exercise's topic).
const strongScore = 4

// topicTable is the topic table, read-only. Order matters: ties are broken in favour of
// the earlier topic, so specific topics come before the generic ones they overlap with.
var topicTable = []topic{
	{
		key:      "karnaugh",
		name:     localized{"Karnaugh maps", "Mappe di Karnaugh"},
		coreLoop: localized{"Karnaugh map minimization", "Minimizzazione con mappe di Karnaugh"},
		procedure: []localized{
			{"Fill the Karnaugh map from the truth table or the minterms (Gray-code order)", "Riempire la mappa di Karnaugh dalla tabella di verità o dai mintermini (ordine Gray)"},
			{"Mark the don't-care cells", "Segnare le celle don't care"},
			{"Cover the 1s with the largest power-of-two groups, wrapping around the edges", "Coprire gli 1 con i raggruppamenti più grandi (potenze di due), sfruttando l'adiacenza dei bordi"},
			{"Pick the essential prime implicants, then a minimal cover of the rest", "Scegliere gli implicanti primi essenziali e una copertura minima dei restanti"},
			{"Write the minimal SOP expression (or the POS one, covering the 0s)", "Scrivere la forma minima SP (o PS, coprendo gli 0)"},
			{"Check the result on a few input combinations", "Verificare il risultato su alcune combinazioni di ingresso"},
		},
		keywords: []keyword{
			{"karnaugh", 5}, {"mappa di k", 4}, {"mappe di k", 4}, {"k map", 4}, {"kmap", 4},
			{"implicanti primi", 3}, {"implicante primo", 3}, {"prime implicant*", 3},
			{"forma minima", 2}, {"minimal form", 2}, {"minimal sop", 2}, {"minimal pos", 2},
			{"minimizzar*", 2}, {"minimizz*", 1}, {"minimi*", 1}, {"minimal", 1},
			{"don t care", 1}, {"indifferenz*", 1},
		},
	},
	{
		key:      "boolean",
		name:     localized{"Boolean algebra", "Algebra di Boole"},
		coreLoop: localized{"Boolean expression simplification", "Semplificazione di espressioni booleane"},
		procedure: []localized{
			{"Write the truth table or the canonical form of the function", "Scrivere la tabella di verità o la forma canonica della funzione"},
			{"Apply the Boolean algebra theorems (De Morgan, absorption, consensus) step by step", "Applicare i teoremi dell'algebra di Boole (De Morgan, assorbimento, consenso) passo per passo"},
			{"Collect common factors to reduce the number of literals", "Raccogliere i fattori comuni per ridurre il numero di letterali"},
			{"Check the simplified expression against the truth table", "Verificare l'espressione semplificata con la tabella di verità"},
			{"Draw the resulting gate-level circuit", "Disegnare il circuito a porte logiche risultante"},
		},
		keywords: []keyword{
			{"algebra di boole", 5}, {"algebra booleana", 5}, {"boolean algebra", 5},
			{"espressione booleana", 3}, {"espressioni booleane", 3}, {"boolean expression*", 3},
			{"funzione booleana", 2}, {"boolean function", 2}, {"funzione logica", 2},
			{"de morgan", 4}, {"assorbimento", 2}, {"absorption", 2}, {"consenso", 2},
			{"forma canonica", 3}, {"canonical form", 3}, {"prima forma canonica", 1},
			{"mintermin*", 2}, {"minterm*", 2}, {"maxtermin*", 2}, {"maxterm*", 2},
			{"somma di prodotti", 2}, {"sum of products", 2}, {"prodotto di somme", 2}, {"product of sums", 2},
			{"tabella di verita", 1}, {"truth table", 1}, {"semplificar*", 2}, {"simplif*", 2},
			{"letterali", 1}, {"literals", 1}, {"nand", 1}, {"nor", 1}, {"xor", 1},
		},
	},
	{
		key:      "combinational",
		name:     localized{"Combinational circuits", "Circuiti combinatori"},
		coreLoop: localized{"Combinational circuit design", "Progetto di circuiti combinatori"},
		procedure: []localized{
			{"Identify the inputs, the outputs and their encoding", "Individuare ingressi, uscite e la loro codifica"},
			{"Write the truth table of each output", "Scrivere la tabella di verità di ogni uscita"},
			{"Derive and minimise the output functions", "Ricavare e minimizzare le funzioni di uscita"},
			{"Build the circuit from gates or standard blocks (mux, decoder, adder)", "Realizzare il circuito con porte logiche o blocchi standard (mux, decoder, sommatori)"},
			{"Compute the critical-path delay and verify the behaviour", "Calcolare il ritardo del cammino critico e verificare il funzionamento"},
		},
		keywords: []keyword{
			{"circuito combinatorio", 5}, {"circuiti combinatori", 5}, {"rete combinatoria", 5}, {"reti combinatorie", 5},
			{"combinational", 5}, {"combinatori*", 3},
			{"multiplexer*", 4}, {"mux", 4}, {"demultiplexer*", 4}, {"demux", 4},
			{"decoder", 4}, {"decodificator*", 4}, {"encoder", 3}, {"codificatore", 3}, {"priority encoder", 2},
			{"sommatore", 4}, {"sommatori", 4}, {"adder*", 4}, {"full adder", 2}, {"half adder", 2},
			{"ripple carry", 3}, {"carry lookahead", 3}, {"carry look ahead", 3},
			{"comparatore", 3}, {"comparator", 3}, {"alu", 2},
			{"porte logiche", 2}, {"logic gates", 2}, {"porta logica", 2}, {"logic gate", 2},
			{"ritardo", 1}, {"delay", 1}, {"cammino critico", 2}, {"critical path", 2},
			{"tabella di verita", 1}, {"truth table", 1},
		},
	},
	{
		key:      "fsm",
		name:     localized{"Finite state machines", "Macchine a stati finiti"},
		coreLoop: localized{"Mealy and Moore FSM design", "Progetto di FSM di Mealy e Moore"},
		procedure: []localized{
			{"Choose the machine model (Mealy or Moore) and define inputs and outputs", "Scegliere il modello (Mealy o Moore) e definire ingressi e uscite"},
			{"Draw the state diagram from the specification", "Disegnare il diagramma degli stati a partire dalla specifica"},
			{"Build the state transition and output table", "Costruire la tabella delle transizioni e delle uscite"},
			{"Minimise the states and choose a state encoding", "Minimizzare gli stati e sceglierne la codifica"},
			{"Derive the next-state and output logic for the flip-flops", "Ricavare la logica di stato futuro e di uscita per i flip-flop"},
			{"Draw the final circuit", "Disegnare il circuito finale"},
		},
		keywords: []keyword{
			{"mealy", 5}, {"moore", 5}, {"macchina a stati", 5}, {"macchine a stati", 5}, {"state machine*", 5},
			{"fsm", 5}, {"automa", 4}, {"automi", 4}, {"automaton", 4},
			{"diagramma degli stati", 3}, {"diagramma a stati", 3}, {"state diagram", 3}, {"grafo degli stati", 3},
			{"tabella degli stati", 2}, {"tabella di transizione", 3}, {"state table", 2}, {"transition table", 3},
			{"riconoscitore", 3}, {"riconosce la sequenza", 3}, {"sequence detector", 4}, {"detects the sequence", 3},
			{"codifica degli stati", 3}, {"state encoding", 3}, {"stato iniziale", 1}, {"initial state", 1},
			{"stati", 1}, {"states", 1},
		},
	},
	{
		key:      "sequential",
		name:     localized{"Sequential circuits", "Circuiti sequenziali"},
		coreLoop: localized{"Sequential circuit analysis", "Analisi di circuiti sequenziali"},
		procedure: []localized{
			{"Identify the flip-flops, their type and the active clock edge", "Individuare i flip-flop, il loro tipo e il fronte di clock attivo"},
			{"Write the excitation and next-state equations", "Scrivere le equazioni di eccitazione e di stato futuro"},
			{"Build the state and transition table", "Costruire la tabella degli stati e delle transizioni"},
			{"Trace the outputs over the clock cycles (timing diagram)", "Tracciare le uscite ciclo per ciclo (diagramma temporale)"},
			{"Describe the function of the circuit (counter, register, ...)", "Descrivere la funzione del circuito (contatore, registro, ...)"},
		},
		keywords: []keyword{
			{"flip flop", 5}, {"flipflop*", 5}, {"latch", 4}, {"latches", 4},
			{"circuito sequenziale", 5}, {"circuiti sequenziali", 5}, {"rete sequenziale", 5}, {"sequential circuit*", 5}, {"sequenzial*", 2}, {"sequential", 2},
			{"registro a scorrimento", 5}, {"shift register", 5}, {"contatore", 4}, {"contatori", 4}, {"counter", 4}, {"counters", 4},
			{"fronte di salita", 3}, {"fronte di discesa", 3}, {"rising edge", 3}, {"falling edge", 3},
			{"diagramma temporale", 3}, {"timing diagram", 3}, {"forme d onda", 3}, {"waveform*", 3},
			{"jk", 2}, {"ff", 2}, {"clock", 1}, {"reset", 1}, {"modulo", 1}, {"mod", 1}, {"stato futuro", 2}, {"next state", 2},
		},
	},
	{
		key:      "ieee754",
		name:     localized{"IEEE 754 floating point", "Virgola mobile IEEE 754"},
		coreLoop: localized{"IEEE 754 encoding and decoding", "Codifica e decodifica IEEE 754"},
		procedure: []localized{
			{"Determine the sign bit", "Determinare il bit di segno"},
			{"Convert the magnitude to binary and normalise it to 1.f × 2^e", "Convertire il modulo in binario e normalizzarlo nella forma 1,f × 2^e"},
			{"Add the bias (127 or 1023) to get the stored exponent", "Sommare il bias (127 o 1023) per ottenere l'esponente memorizzato"},
			{"Write the fraction bits, rounding to the available width", "Scrivere i bit della mantissa arrotondando alla larghezza disponibile"},
			{"Assemble sign, exponent and fraction and write the result in hexadecimal", "Comporre segno, esponente e mantissa e scrivere il risultato in esadecimale"},
			{"Check the special cases: zero, denormals, infinity, NaN", "Verificare i casi speciali: zero, denormalizzati, infinito, NaN"},
		},
		keywords: []keyword{
			{"ieee 754", 6}, {"ieee754", 6}, {"ieee", 2}, {"754", 2},
			{"virgola mobile", 5}, {"floating point", 5}, {"floating", 2},
			{"singola precisione", 3}, {"single precision", 3}, {"doppia precisione", 3}, {"double precision", 3}, {"half precision", 3},
			{"mantissa", 3}, {"significand", 3}, {"esponente", 2}, {"exponent", 2}, {"polarizzazione", 2}, {"bias", 2},
			{"denormalizzat*", 3}, {"denormal*", 3}, {"subnormal*", 3}, {"nan", 2}, {"infinito", 1}, {"infinity", 1},
			{"virgola fissa", 2}, {"fixed point", 2},
		},
	},
	{
		key:      "numbers",
		name:     localized{"Number systems", "Sistemi di numerazione"},
		coreLoop: localized{"Base conversion and two's complement arithmetic", "Conversione di base e aritmetica in complemento a 2"},
		procedure: []localized{
			{"Identify the source and target base and representation (unsigned, sign-magnitude, two's complement)", "Individuare base e rappresentazione di partenza e di arrivo (senza segno, modulo e segno, complemento a 2)"},
			{"Convert the integer part by repeated division and the fraction by repeated multiplication", "Convertire la parte intera per divisioni successive e la parte frazionaria per moltiplicazioni successive"},
			{"Group the bits by 3 or 4 for octal and hexadecimal", "Raggruppare i bit a 3 o 4 per ottale ed esadecimale"},
			{"For two's complement invert the bits and add one; sign-extend to the required width", "In complemento a 2 invertire i bit e sommare uno; estendere il segno alla larghezza richiesta"},
			{"Perform the arithmetic and check carry and overflow", "Eseguire l'operazione e controllare riporto e overflow"},
		},
		keywords: []keyword{
			{"complemento a 2", 5}, {"complemento a due", 5}, {"complemento a 1", 4}, {"two s complement", 5}, {"twos complement", 5}, {"2 s complement", 5}, {"ones complement", 4}, {"one s complement", 4},
			{"modulo e segno", 4}, {"sign and magnitude", 4}, {"sign magnitude", 4}, {"eccesso", 3}, {"excess", 3}, {"bcd", 4},
			{"binario", 2}, {"binari", 2}, {"binary", 2}, {"esadecimal*", 3}, {"hexadecimal", 3}, {"ottal*", 3}, {"octal", 3},
			{"base 2", 2}, {"base 8", 2}, {"base 10", 2}, {"base 16", 2}, {"decimale", 1}, {"decimal", 1},
			{"convertir*", 1}, {"convert*", 1}, {"conversion*", 1}, {"overflow", 2}, {"estensione del segno", 3}, {"sign extension", 3},
			{"sistemi di numerazione", 5}, {"number system*", 5}, {"rappresentazion*", 1}, {"representation*", 1},
		},
	},
	{
		key:      "assembly",
		name:     localized{"Assembly programming", "Programmazione assembly"},
		coreLoop: localized{"Assembly translation and tracing", "Traduzione e simulazione di codice assembly"},
		procedure: []localized{
			{"Map the variables of the high-level code to registers and memory", "Associare le variabili del codice ad alto livello a registri e memoria"},
			{"Translate each statement (loops, conditions, array accesses) into instructions", "Tradurre ogni costrutto (cicli, condizioni, accessi ai vettori) in istruzioni"},
			{"Handle procedure calls: arguments, return value, saved registers on the stack", "Gestire le chiamate a procedura: argomenti, valore di ritorno, registri salvati sullo stack"},
			{"Trace the execution on the given input, instruction by instruction", "Simulare l'esecuzione sull'input dato, istruzione per istruzione"},
			{"Check register and memory contents at the end", "Verificare il contenuto di registri e memoria al termine"},
		},
		keywords: []keyword{
			{"assembly", 5}, {"assembler", 4}, {"linguaggio macchina", 3}, {"machine code", 3}, {"codice macchina", 3},
			{"risc v", 4}, {"riscv", 4}, {"rv32i", 4}, {"mips", 1}, {"arm", 2}, {"armv8", 3}, {"x86", 2},
			{"lw", 2}, {"sw", 2}, {"lb", 1}, {"sb", 1}, {"addi", 2}, {"add", 1}, {"sub", 1}, {"beq", 2}, {"bne", 2}, {"blt", 2}, {"bge", 2},
			{"jal", 2}, {"jr", 2}, {"jalr", 2}, {"slt", 2}, {"slli", 2}, {"sll", 1}, {"ldr", 2}, {"cmp", 1}, {"mov", 1},
			{"t0", 1}, {"s0", 1}, {"a0", 1}, {"sp", 1}, {"ra", 1},
			{"stack", 2}, {"stack pointer", 2}, {"procedura", 1}, {"function call", 2}, {"chiamata a funzione", 2}, {"ricorsiv*", 1}, {"recursive", 1},
			{"codice c", 2}, {"c code", 2}, {"linguaggio c", 2}, {"tradurre", 1}, {"translate", 1}, {"vettore", 1}, {"array", 1},
			{"registri", 1}, {"registers", 1}, {"program counter", 2},
		},
	},
	{
		key:      "cache",
		name:     localized{"Cache memory", "Memoria cache"},
		coreLoop: localized{"Cache address breakdown and hit-miss simulation", "Scomposizione degli indirizzi e simulazione di hit e miss in cache"},
		procedure: []localized{
			{"Compute the number of offset, index and tag bits from block size, number of sets and address width", "Calcolare i bit di offset, indice e tag da dimensione del blocco, numero di insiemi e ampiezza dell'indirizzo"},
			{"Split each address into tag, index and offset", "Scomporre ogni indirizzo in tag, indice e offset"},
			{"Simulate the access sequence, updating valid bits, tags and the replacement state (e.g. LRU)", "Simulare la sequenza di accessi aggiornando bit di validità, tag e stato di rimpiazzamento (es. LRU)"},
			{"Classify each access as a hit or a miss (compulsory, conflict, capacity)", "Classificare ogni accesso come hit o miss (obbligatorio, conflitto, capacità)"},
			{"Compute hit rate, miss rate and average memory access time", "Calcolare hit rate, miss rate e tempo medio di accesso alla memoria"},
		},
		keywords: []keyword{
			{"cache", 6}, {"hit", 2}, {"hits", 2}, {"miss", 2}, {"misses", 2}, {"hit rate", 2}, {"miss rate", 2}, {"tasso di hit", 2}, {"tasso di miss", 2},
			{"direct mapped", 3}, {"mappatura diretta", 3}, {"corrispondenza diretta", 3}, {"indirizzamento diretto", 3},
			{"associativa", 3}, {"associative", 3}, {"set associative", 2}, {"a insiemi", 2}, {"fully associative", 2}, {"completamente associativa", 2},
			{"vie", 1}, {"way", 1}, {"ways", 1}, {"blocco", 1}, {"blocchi", 1}, {"block", 1}, {"blocks", 1}, {"linea", 1}, {"linee", 1},
			{"tag", 2}, {"indice", 1}, {"index", 1}, {"offset", 2}, {"lru", 3}, {"fifo", 1},
			{"write back", 2}, {"write through", 2}, {"amat", 4}, {"tempo medio di accesso", 3}, {"average memory access time", 4},
			{"gerarchia di memoria", 2}, {"memory hierarchy", 2},
		},
	},
	{
		key:      "pipeline",
		name:     localized{"Pipelining", "Pipeline"},
		coreLoop: localized{"Pipeline hazard analysis", "Analisi dei conflitti in pipeline"},
		procedure: []localized{
			{"List the instructions with the registers each one reads and writes", "Elencare le istruzioni con i registri letti e scritti da ciascuna"},
			{"Find the data and control hazards (RAW dependences, branches)", "Individuare i conflitti sui dati e sul controllo (dipendenze RAW, salti)"},
			{"Decide the forwarding paths and the stalls that remain (e.g. load-use)", "Stabilire i percorsi di forwarding e gli stalli che restano (es. load-use)"},
			{"Draw the pipeline diagram cycle by cycle (IF ID EX MEM WB)", "Disegnare il diagramma della pipeline ciclo per ciclo (IF ID EX MEM WB)"},
			{"Count the total cycles and compute the CPI", "Contare i cicli totali e calcolare il CPI"},
		},
		keywords: []keyword{
			{"pipeline", 6}, {"pipelined", 6}, {"pipelining", 6},
			{"hazard*", 3}, {"alea", 3}, {"alee", 3}, {"conflitto", 1}, {"conflitti", 1}, {"criticita", 1}, {"dipendenz*", 1}, {"dependenc*", 1},
			{"forwarding", 3}, {"propagazione", 1}, {"bypass*", 2}, {"stallo", 3}, {"stalli", 3}, {"stall", 3}, {"stalls", 3}, {"bolla", 2}, {"bolle", 2}, {"bubble*", 2},
			{"if id ex mem wb", 4}, {"cinque stadi", 2}, {"5 stadi", 2}, {"five stage", 2}, {"5 stage", 2}, {"stadi", 1}, {"stadio", 1}, {"stage", 1}, {"stages", 1},
			{"load use", 2}, {"branch prediction", 2}, {"predizione dei salti", 2}, {"salto ritardato", 2}, {"delayed branch", 2}, {"raw", 1},
		},
	},
	{
		key:      "performance",
		name:     localized{"Performance evaluation", "Valutazione delle prestazioni"},
		coreLoop: localized{"CPU time, CPI and speedup calculation", "Calcolo di tempo di CPU, CPI e speedup"},
		procedure: []localized{
			{"Collect instruction counts, CPI per class and the clock frequency", "Raccogliere numero di istruzioni, CPI per classe e frequenza di clock"},
			{"Compute the average CPI as the weighted sum over the instruction classes", "Calcolare il CPI medio come somma pesata sulle classi di istruzioni"},
			{"Compute CPU time = instructions × CPI / frequency (and MIPS if asked)", "Calcolare il tempo di CPU = istruzioni × CPI / frequenza (e i MIPS se richiesti)"},
			{"For an enhancement apply Amdahl's law: speedup = 1 / ((1 − f) + f / s)", "Per un miglioramento applicare la legge di Amdahl: speedup = 1 / ((1 − f) + f / s)"},
			{"Compare the alternatives and state which is faster and by how much", "Confrontare le alternative e indicare quale è più veloce e di quanto"},
		},
		keywords: []keyword{
			{"cpi", 4}, {"cpi medio", 2}, {"average cpi", 2}, {"amdahl", 6}, {"speedup", 3}, {"speed up", 3}, {"accelerazione", 2},
			{"tempo di esecuzione", 3}, {"execution time", 3}, {"tempo di cpu", 3}, {"cpu time", 3},
			{"frequenza di clock", 2}, {"frequenza", 1}, {"clock rate", 2}, {"clock frequency", 2}, {"periodo di clock", 2}, {"clock period", 2}, {"ghz", 2}, {"mhz", 2},
			{"mips", 1}, {"mflops", 3}, {"milioni di istruzioni", 3}, {"million instructions", 3},
			{"prestazioni", 2}, {"performance", 2}, {"cicli per istruzione", 3}, {"cycles per instruction", 3}, {"cicli di clock", 1}, {"clock cycles", 1},
			{"benchmark*", 2}, {"throughput", 1}, {"latenza", 1}, {"latency", 1}, {"classi di istruzioni", 2}, {"instruction class*", 2},
		},
	},
}

// generalTopic is used when no topic has any evidence: a valid exercise still needs a
// topic and a core loop, and its confidence stays low.
var generalTopic = topic{
	key:      "general",
	name:     localized{"Computer architecture (general)", "Architettura degli elaboratori (generale)"},
	coreLoop: localized{"General problem solving", "Risoluzione generale del problema"},
	procedure: []localized{
		{"Read the problem and identify the data and what is asked", "Leggere il testo e individuare i dati e le richieste"},
		{"Relate it to the corresponding part of the theory", "Collegarlo alla parte di teoria corrispondente"},
		{"Solve step by step and check the result", "Risolvere passo per passo e verificare il risultato"},
	},
}

// variation is a recognisable variant of an exercise, detected by any of its keywords.
type variation struct {
	label    localized
	keywords []string
}

// variationTable lists the variations the heuristic can name, in output order.
var variationTable = []variation{
	{localized{"don't care conditions", "condizioni di indifferenza (don't care)"}, []string{"don t care", "indifferenz*", "dont care"}},
	{localized{"NAND-only implementation", "realizzazione con sole porte NAND"}, []string{"solo porte nand", "sole porte nand", "soltanto porte nand", "only nand", "nand only", "nand gates only", "solo nand", "sole nand"}},
	{localized{"NOR-only implementation", "realizzazione con sole porte NOR"}, []string{"solo porte nor", "sole porte nor", "only nor", "nor only", "nor gates only", "solo nor", "sole nor"}},
	{localized{"product of sums form", "forma prodotto di somme"}, []string{"prodotto di somme", "product of sums", "forma ps", "pos form", "seconda forma canonica"}},
	{localized{"Mealy machine", "macchina di Mealy"}, []string{"mealy"}},
	{localized{"Moore machine", "macchina di Moore"}, []string{"moore"}},
	{localized{"JK flip-flops", "flip-flop JK"}, []string{"jk"}},
	{localized{"T flip-flops", "flip-flop T"}, []string{"flip flop t", "flip flop di tipo t", "t flip flop"}},
	{localized{"counter design", "progetto di un contatore"}, []string{"contatore", "counter"}},
	{localized{"overflow detection", "rilevazione dell'overflow"}, []string{"overflow"}},
	{localized{"hexadecimal representation", "rappresentazione esadecimale"}, []string{"esadecimal*", "hexadecimal", "hex"}},
	{localized{"double precision", "doppia precisione"}, []string{"doppia precisione", "double precision"}},
	{localized{"denormalised numbers", "numeri denormalizzati"}, []string{"denormalizzat*", "denormal*", "subnormal*"}},
	{localized{"recursive procedure", "procedura ricorsiva"}, []string{"ricorsiv*", "recursive", "recursion"}},
	{localized{"stack management", "gestione dello stack"}, []string{"stack"}},
	{localized{"direct-mapped cache", "cache a mappatura diretta"}, []string{"direct mapped", "mappatura diretta", "corrispondenza diretta", "indirizzamento diretto"}},
	{localized{"set-associative cache", "cache associativa a insiemi"}, []string{"set associative", "associativa a", "a insiemi", "way associative"}},
	{localized{"LRU replacement", "rimpiazzamento LRU"}, []string{"lru"}},
	{localized{"write-back policy", "politica write-back"}, []string{"write back"}},
	{localized{"without forwarding", "senza forwarding"}, []string{"senza forwarding", "without forwarding", "no forwarding"}},
	{localized{"with forwarding", "con forwarding"}, []string{"con forwarding", "with forwarding", "forwarding unit", "unita di forwarding"}},
	{localized{"branch hazards", "conflitti di controllo sui salti"}, []string{"branch prediction", "predizione dei salti", "salto ritardato", "delayed branch", "control hazard*", "conflitti di controllo"}},
	{localized{"Amdahl's law", "legge di Amdahl"}, []string{"amdahl"}},
	{localized{"MIPS rating", "calcolo dei MIPS"}, []string{"mips rating", "milioni di istruzioni", "million instructions", "valore mips", "mips rate"}},
}

// maxVariations caps how many variations one analysis lists.
const maxVariations = 4
