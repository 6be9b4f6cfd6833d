import json
C = {"code": "DB", "name": "Databases", "language": "en"}
items = [
("db-2401-h1","invalid",None,None,"Databases — Final exam, January 15, 2024\nName: ____________________  Student number: ____________"),
("db-2401-h2","invalid",None,None,"Instructions: answer all questions in the space provided. You have 2 hours. Books and notes are not allowed; calculators are permitted. The total is 30 marks."),
("db-2401-1","exercise","sql","sql-query","Question 1 (8 marks). Consider the relations\nStudent(id, name, year, dept)\nCourse(code, title, credits, dept)\nEnrolled(student_id, course_code, grade)\nWrite SQL queries that return:\na) the names of the students enrolled in every course of their own department;\nb) for each department, the average grade of its courses, only for departments with more than 10 enrolments;\nc) the students who never got a grade below 24."),
("db-2401-1d","fragment",None,None,"d) Using the same relations as above, express query (a) in relational algebra."),
("db-2401-2","exercise","normalization","norm-bcnf","Question 2 (8 marks). Let R(A, B, C, D, E) be a relation with the functional dependencies A → B, BC → D, D → A and E → C.\na) Compute the candidate keys of R.\nb) State whether R is in 3NF and whether it is in BCNF, justifying your answer.\nc) Decompose R into BCNF and say whether the decomposition preserves the dependencies."),
("db-2401-3","exercise","er","er-design","Question 3 (7 marks). A hospital wants a database of its wards, doctors, nurses and patients. Every ward has a name and a number of beds; a doctor works in one ward and may treat many patients; a patient is admitted to one ward at a time, and each admission has a start date and an end date. Draw an Entity-Relationship diagram for this domain, with cardinalities and keys, and translate it into a relational schema."),
("db-2401-p","invalid",None,None,"Page 1 of 2"),
("db-2401-4","exercise","transactions","tx-serializable","Question 4 (7 marks). Consider the schedule S: r1(X) r2(Y) w2(X) r3(X) w1(Y) w3(Y) c1 c2 c3.\nDraw the precedence graph of S and determine whether S is conflict-serializable; if it is, give an equivalent serial schedule."),
("db-2401-4b","fragment",None,None,"Could the same schedule be produced by strict two-phase locking? Explain which locks each transaction would request."),

("db-2406-h1","invalid",None,None,"Databases — Resit exam, June 20, 2024. Write your name and student number on every sheet. Duration: 2 hours. Good luck!"),
("db-2406-1","exercise","normalization","norm-bcnf","Question 1. Given the relation Orders(order_id, customer, customer_city, product, price, quantity) with the functional dependencies order_id → customer, customer → customer_city, product → price and (order_id, product) → quantity, find all candidate keys, explain why the relation is not in BCNF and decompose it into a set of BCNF relations. Is the decomposition lossless?"),
("db-2406-2","exercise","sql","sql-query","Question 2. With the schema Employee(emp_id, name, salary, dept_id), Department(dept_id, name, manager_id) and Project(proj_id, dept_id, budget), write SQL queries to find (i) the departments whose total salary exceeds the total budget of their projects, (ii) the employees who earn more than their manager, and (iii) the names of the managers of departments with no project."),
("db-2406-2b","fragment",None,None,"For query (ii), write an equivalent formulation that uses a correlated subquery instead of a join."),
("db-2406-3","exercise","indexing","idx-btree","Question 3. Insert the keys 10, 20, 5, 6, 12, 30, 7, 17 in this order into an initially empty B+ tree of order 3 (at most 2 keys per node). Draw the tree after each split, then show the tree after deleting key 6."),
("db-2406-4","exercise","transactions","tx-serializable","Question 4. For the schedule r1(A) w1(A) r2(A) r1(B) w2(A) w1(B) r2(B) w2(B), draw the precedence graph and determine whether the schedule is conflict-serializable. Then say whether it is recoverable and whether it avoids cascading aborts."),
("db-2406-f","invalid",None,None,"DB resit — June 2024 — page 2 of 2"),

("db-2409-h1","invalid",None,None,"Databases — Exam session of September 9, 2024\nRules: closed book. Mobile phones must be switched off. Answer every question; show all your work."),
("db-2409-1","exercise","er","er-design","Question 1. An online bookshop sells books written by one or more authors and published by a publisher. Customers place orders, each order contains several books with a quantity, and every book may have reviews written by customers. Design an ER schema for the bookshop, stating the keys and the cardinality of every relationship, and translate it into tables with primary and foreign keys."),
("db-2409-2","exercise","sql","sql-query","Question 2. Using the relations Flight(number, origin, destination, departure, airline) and Booking(passenger, flight_number, date, seat), write SQL queries that list:\n1. the airlines with flights from every origin in the database;\n2. the passengers who booked at least two flights on the same date;\n3. for every destination, the number of bookings in 2024, ordered by that number."),
("db-2409-3","exercise","indexing","idx-btree","Question 3. Explain the difference between a clustered and an unclustered index. A table of 1,000,000 records is stored in blocks of 20 records; a B+ tree index on its key has a fan-out of 100. Compute the height of the B+ tree and the number of block accesses needed to find one record by key with and without the index."),
("db-2409-3b","fragment",None,None,"b) Repeat the calculation for a range query returning 5,000 records, for the clustered and the unclustered index."),
("db-2409-4","exercise","normalization","norm-bcnf","Question 4. Let R(A, B, C, D) with F = {AB → C, C → D, D → A}. Find the candidate keys, compute a minimal cover of F, and decompose R into 3NF with the synthesis algorithm. Is the result also in BCNF?"),
("db-2409-5","exercise","transactions","tx-recovery","Question 5. A DBMS uses write-ahead logging with checkpoints. Given the log below, describe the actions of the UNDO/REDO recovery algorithm after the crash, listing the transactions to undo and to redo:\nT1 start; T1 write X; T2 start; checkpoint; T2 write Y; T1 commit; T3 start; T3 write Z; crash."),
]
cf = {"course": C, "exercises": []}
labels = {"course": "db-en", "split": "train", "items": []}
for id_, kind, topic, loop, text in items:
    cf["exercises"].append({"id": id_, "number": "", "text": text, "source": id_[:7] + ".pdf", "page": 1})
    l = {"id": id_, "kind": kind}
    if topic: l["topic"] = topic
    if loop: l["core_loop"] = loop
    labels["items"].append(l)
json.dump(cf, open("db-en.json", "w"), ensure_ascii=False, indent=1)
json.dump(labels, open("db-en.labels.json", "w"), ensure_ascii=False, indent=1)
