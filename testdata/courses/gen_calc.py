from gen_common import write
C = {"code": "AM1", "name": "Analisi Matematica I", "language": "it"}
E, F, I = "exercise", "fragment", "invalid"
items = [
("am1-2401-h1",I,None,None,"Università degli Studi — Corso di Laurea in Ingegneria\nAnalisi Matematica I — Prova scritta del 24 gennaio 2024"),
("am1-2401-h2",I,None,None,"Cognome ____________ Nome ____________ Matricola ____________\nNon è consentito l'uso di calcolatrici grafiche, libri o appunti. Tempo a disposizione: 3 ore. Le risposte vanno giustificate."),
("am1-2401-1",E,"limiti","lim-compute","Esercizio 1 (6 punti). Calcolare i seguenti limiti:\na) lim_{x→0} (e^{2x} − 1 − 2x) / (x sin x)\nb) lim_{x→+∞} (√(x^2 + 3x) − x)\nc) lim_{x→0+} x^x"),
("am1-2401-2",E,"studio","fun-study","Esercizio 2 (10 punti). Si studi la funzione f(x) = (x^2 − 1) e^{−x}: dominio, segno, limiti agli estremi del dominio ed eventuali asintoti, derivata prima, intervalli di monotonia, punti di massimo e minimo relativo. Si tracci infine un grafico qualitativo della funzione."),
("am1-2401-2b",F,None,None,"b) Si determini il numero di soluzioni dell'equazione f(x) = k al variare del parametro reale k."),
("am1-2401-3",E,"integrali","int-compute","Esercizio 3 (8 punti). Calcolare l'integrale definito ∫_0^1 x arctan(x) dx utilizzando l'integrazione per parti, e l'integrale indefinito ∫ (2x + 3)/(x^2 + x − 2) dx mediante la decomposizione in fratti semplici."),
("am1-2401-p",I,None,None,"pag. 1/2"),
("am1-2401-4",E,"serie","series-conv","Esercizio 4 (6 punti). Studiare il carattere delle seguenti serie numeriche, specificando il criterio di convergenza utilizzato:\n1. ∑_{n=1}^{∞} n^2 / 3^n\n2. ∑_{n=1}^{∞} (−1)^n / √n\n3. ∑_{n=1}^{∞} sin(1/n^2)"),

("am1-2402-h1",I,None,None,"Analisi Matematica I — Appello del 15 febbraio 2024. Durata della prova: 3 ore. È vietato l'uso di telefoni cellulari. Scrivere nome, cognome e matricola su ogni foglio consegnato."),
("am1-2402-1",E,"limiti","lim-compute","Esercizio 1. Calcolare, al variare del parametro α > 0, il limite lim_{x→0+} (1 − cos x)^α / (x^3 + sin^2 x), usando gli sviluppi di Taylor delle funzioni coinvolte."),
("am1-2402-2",E,"studio","fun-study","Esercizio 2. Data la funzione f(x) = ln(x^2 − 4x + 5) − x, se ne determinino il dominio, gli eventuali asintoti, gli intervalli di monotonia e di convessità, i punti di massimo e di minimo. Si disegni il grafico qualitativo di f."),
("am1-2402-3",E,"ode","ode-cauchy","Esercizio 3. Risolvere il problema di Cauchy\ny'' − 3y' + 2y = e^{3x}\ny(0) = 1, y'(0) = 0\ndeterminando prima la soluzione generale dell'equazione omogenea associata e poi una soluzione particolare con il metodo di somiglianza."),
("am1-2402-3b",F,None,None,"(continua) Si risolva poi l'equazione differenziale del primo ordine y' = y/x + x^2 con la condizione iniziale y(1) = 2."),
("am1-2402-4",E,"integrali","int-improper","Esercizio 4. Si stabilisca per quali valori del parametro reale a l'integrale improprio ∫_1^{+∞} 1 / (x^a (1 + ln x)) dx è convergente, e se ne calcoli il valore per a = 2 quando possibile.\nAnalisi Matematica I — 15/02/2024 — Pagina 2"),
("am1-2402-5",E,"serie","series-conv","Esercizio 5. Studiare la convergenza semplice e assoluta della serie ∑_{n=1}^{∞} (−1)^n n / (n^2 + 1), applicando il criterio di Leibniz e il criterio del confronto asintotico."),

("am1-2406-h1",I,None,None,"ANALISI MATEMATICA I — Prova scritta — 26 giugno 2024\nIstruzioni: svolgere tutti gli esercizi motivando ogni passaggio. Consegnare solo la bella copia."),
("am1-2406-1",E,"serie","series-conv","Esercizio 1. Determinare per quali x ∈ ℝ converge la serie di potenze ∑_{n=1}^{∞} (x − 2)^n / (n 3^n), studiando separatamente il comportamento agli estremi dell'intervallo di convergenza."),
("am1-2406-2",E,"integrali","int-compute","Esercizio 2. Calcolare l'integrale ∫_0^{π/2} sin^3(x) cos(x) dx con una opportuna sostituzione e l'integrale ∫_1^e x^2 ln(x) dx per parti. Si spieghi quale metodo di integrazione conviene in ciascun caso."),
("am1-2406-2b",F,None,None,"Con riferimento agli integrali del punto precedente, si calcoli l'area della regione compresa tra il grafico di y = x^2 ln x, l'asse x e le rette x = 1 e x = e."),
("am1-2406-3",E,"ode","ode-cauchy","Esercizio 3. Si trovi la soluzione del problema di Cauchy y' + 2xy = x, y(0) = 3, risolvendo l'equazione differenziale lineare del primo ordine con il metodo del fattore integrante. Si verifichi che la soluzione trovata soddisfa la condizione iniziale."),
("am1-2406-4",E,"studio","fun-study","Esercizio 4. Come sopra indicato nelle istruzioni, si motivi ogni passaggio. Studiare la funzione f(x) = x / (x^2 + 1): dominio, simmetrie, asintoti, derivata prima e seconda, massimi, minimi e flessi; tracciarne il grafico."),
("am1-2406-5",E,"limiti","lim-compute","Esercizio 5. Calcolare il limite della successione a_n = (1 + 2/n)^{3n} e il limite lim_{x→0} (tan x − x) / x^3 usando gli sviluppi di Taylor."),
("am1-2406-f",I,None,None,"- 2 -"),
]
write("am1-it", C, "heldout", items)
