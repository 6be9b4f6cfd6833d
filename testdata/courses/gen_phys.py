from gen_common import write
C = {"code": "PHY1", "name": "Physics I", "language": "en"}
E, F, I = "exercise", "fragment", "invalid"
items = [
("phy-2401-h1",I,None,None,"PHYSICS I — Written examination — 22 January 2024\nSurname: ____________ Name: ____________ ID number: ________"),
("phy-2401-h2",I,None,None,"Read all the questions before you start. Time allowed: 2 hours. Non-programmable calculators are allowed. Use g = 9.81 m/s² unless stated otherwise."),
("phy-2401-1",E,"kinematics","proj-motion","Exercise 1. A ball is thrown from the top of a 20 m high building with an initial speed of 15 m/s at an angle of 30° above the horizontal.\n(a) Find the time the ball takes to reach the ground.\n(b) Find the horizontal distance travelled.\n(c) Find the speed of the ball just before it hits the ground."),
("phy-2401-2",E,"dynamics","incline-forces","Exercise 2. A block of mass 5 kg slides down an inclined plane of angle 35°; the coefficient of kinetic friction between block and plane is 0.25. Draw the free-body diagram of the block, find the normal force, the friction force and the acceleration of the block."),
("phy-2401-2b",F,None,None,"(b) The block is now pushed up the same incline by a horizontal force F. Find the value of F for which the block moves up at constant speed."),
("phy-2401-3",E,"energy","energy-conservation","Exercise 3. A roller coaster car of mass 400 kg starts from rest at a height of 30 m and slides without friction. Use the conservation of mechanical energy to find its speed at the bottom of the track and at the top of a loop of radius 8 m. Does the car stay on the track at the top of the loop?"),
("phy-2401-p",I,None,None,"Page 1 of 2"),
("phy-2401-4",E,"momentum","collision","Exercise 4. A 2 kg cart moving at 3 m/s collides with a 1 kg cart at rest. Compute the final velocities if the collision is perfectly elastic, and if the carts stick together. How much kinetic energy is lost in the second case?"),

("phy-2402-h1",I,None,None,"Physics I — Exam of 19 February 2024. Duration: 2 hours. Mobile phones are not permitted. Write your name on every sheet."),
("phy-2402-1",E,"kinematics","proj-motion","Exercise 1. A projectile is launched from ground level with a speed of 40 m/s at 50° above the horizontal. Compute the maximum height, the time of flight and the range of the projectile, neglecting air resistance."),
("phy-2402-2",E,"dynamics","incline-forces","Exercise 2. Two blocks of masses 3 kg and 2 kg are connected by a light string over a frictionless pulley; the 3 kg block lies on a horizontal table with friction coefficient 0.2. Find the acceleration of the system and the tension in the string, drawing the free-body diagram of each block."),
("phy-2402-3",E,"energy","work-spring","Exercise 3. A spring of constant k = 800 N/m is compressed by 0.15 m and launches a 0.5 kg block along a horizontal surface with friction coefficient 0.3. Compute the work done by the spring, and the distance the block travels before stopping."),
("phy-2402-3b",F,None,None,"Using the result above, find the speed of the block after it has travelled 0.5 m."),
("phy-2402-4",E,"momentum","collision","Exercise 4. A bullet of mass 10 g is fired into a wooden block of mass 2 kg hanging from a string (ballistic pendulum). The block rises by 12 cm. Use the conservation of momentum in the collision and the conservation of energy afterwards to find the speed of the bullet."),
("phy-2402-5",E,"rotation","rot-dynamics","Exercise 5. A solid disk of mass 4 kg and radius 0.3 m rotates about its axis; a string wound around it holds a 1 kg mass that falls from rest. Find the angular acceleration of the disk, the tension in the string and the moment of inertia used."),

("phy-2406-h1",I,None,None,"Physics I — Resit examination, 24 June 2024\nInstructions: answer every exercise; give the units of every result. Books and notes are not allowed."),
("phy-2406-1",E,"rotation","rot-dynamics","Exercise 1. A uniform rod of length 1.2 m and mass 2 kg pivots about one end. It is released from the horizontal position. Find its moment of inertia about the pivot, its angular acceleration just after release, and its angular speed when it passes through the vertical."),
("phy-2406-2",E,"energy","energy-conservation","Exercise 2. A 2 kg ball is dropped from a height of 10 m onto a spring of constant 2000 N/m. Use energy conservation to find the maximum compression of the spring. Then find the speed of the ball when the spring is compressed by 0.2 m."),
("phy-2406-3",E,"kinematics","proj-motion","Exercise 3. A car accelerates uniformly from rest to 25 m/s in 8 s, then moves at constant speed for 20 s and finally brakes to rest in 5 s. Draw the velocity-time graph and find the total distance travelled and the average speed."),
("phy-2406-3b",F,None,None,"b) Find the acceleration during each phase of the same motion and draw the acceleration-time graph."),
("phy-2406-4",E,"momentum","collision","Exercise 4. Two pucks collide on frictionless ice: puck A (0.2 kg, 4 m/s along x) hits puck B (0.3 kg, at rest); after the collision A moves at 2 m/s at 30° to the x axis. Find the velocity of puck B and say whether the collision is elastic.\nPhysics I — June 2024 — page 2"),
]
write("phy-en", C, "train", items)
